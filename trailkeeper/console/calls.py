"""A console call (service, operation, params) in, the handler's output out, recorded as AWS records it.

The console answers its pages with the same registered handlers the gateway runs (LookupEvents,
StartLogging, ...), not with queries of its own, and each call is journaled exactly like a
gateway call: a mutating call is reserved before it runs and refused when the journal cannot
write; the record is durable before the page shows its result. Records carry
``sessionCredentialFromConsole: "true"`` and the browser's user agent.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.model import OperationModel

from trailkeeper.capture.catalog import ServiceEntry
from trailkeeper.capture.identity.principal import Principal
from trailkeeper.capture.wire import error_outcome, validate_required
from trailkeeper.capture.wire.types import CallError, Outcome
from trailkeeper.errors import AwsError, JournalUnavailable, internal_failure, service_unavailable
from trailkeeper.journal.base import JournalEntry
from trailkeeper.record.build import CallContext, build_record, encode_record, resource_refs
from trailkeeper.record.index import index_entry
from trailkeeper.services.registry import AppServices, CallEnv, handler_for

__all__ = ["Caller", "ConsoleCalls"]

log = logging.getLogger("trailkeeper.console")

# The gateway's wording for a reserved call whose outcome is lost in a crash.
_UNKNOWN_OUTCOME = CallError(
    "InternalFailure", "The server stopped before this call completed; its outcome is unknown."
)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who calls and from where: the console session's principal, region and browser."""

    principal: Principal
    region: str
    source_ip: str
    user_agent: str


def _journal_down() -> AwsError:
    return service_unavailable(
        "The audit journal cannot record this call right now; it was not executed. Retry later."
    )


class ConsoleCalls:
    """Runs registered handlers for the console and journals each call."""

    def __init__(self, app: AppServices, *, clock: Callable[[], float]) -> None:
        self._app = app
        self._clock = clock

    def _entry(self, service: str) -> ServiceEntry:
        entry = self._app.catalog.by_signing_name(service)
        if entry is None or not entry.local:
            raise AwsError("UnsupportedOperationException", f"{service} is not served here.", 400)
        return entry

    async def invoke(
        self, caller: Caller, service: str, operation: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        """Run ``operation`` and journal it; raises AwsError as the API would (after recording it)."""
        entry = self._entry(service)
        op = entry.model.operation_model(operation)
        call = _Call(caller, entry, operation, params, str(uuid.uuid4()), str(uuid.uuid4()))
        read_only = operation in entry.rules.read_only
        journal = self._app.journal
        if not journal.writable() and not (read_only and self._app.settings.fail_open_reads):
            raise _journal_down()
        if not read_only:
            try:
                await journal.reserve(self._journal_entry(call, Outcome(error=_UNKNOWN_OUTCOME)))
            except JournalUnavailable as err:
                raise _journal_down() from err
        outcome, failure = await self._execute(call, op)
        await self._record(call, outcome, read_only)
        if failure is not None:
            raise failure
        return outcome.output or {}

    async def _execute(self, call: _Call, op: OperationModel) -> tuple[Outcome, AwsError | None]:
        """The outcome to record, and the error to show (the one the API would answer)."""
        handler = handler_for(call.entry.name, call.operation)
        try:
            if handler is None:
                message = f"{call.entry.model.service_id} {call.operation} is not supported by this server."
                raise AwsError("UnsupportedOperationException", message, 400)
            validate_required(op, call.params, constraints=call.entry.rules.model_constraints)
            env = CallEnv(
                principal=call.caller.principal,
                region=call.caller.region,
                request_id=call.request_id,
                now=self._now(),
                source_ip=call.caller.source_ip,
                app=self._app,
            )
            return Outcome(output=await handler(env, call.params)), None
        except AwsError as err:
            return error_outcome(err, call.entry.protocol), err
        except Exception:
            # A handler bug is still recorded (InternalFailure) and shown, never a hang.
            log.exception("internal error in console call %s", call.operation)
            failure = internal_failure()
            return error_outcome(failure, call.entry.protocol), failure

    async def _record(self, call: _Call, outcome: Outcome, read_only: bool) -> None:
        try:
            await self._app.journal.append(self._journal_entry(call, outcome))
        except JournalUnavailable as err:
            if read_only and self._app.settings.fail_open_reads:
                log.warning("answered console %s without a record (fail-open read)", call.operation)
                return
            raise _journal_down() from err

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _journal_entry(self, call: _Call, outcome: Outcome) -> JournalEntry:
        now = self._clock()
        principal, entry = call.caller.principal, call.entry
        refs = resource_refs(
            entry.rules, call.operation, call.params, outcome.output,
            account=principal.account_id, region=call.caller.region,
        )  # fmt: skip
        ctx = CallContext(
            event_time=datetime.fromtimestamp(now, UTC),
            region=call.caller.region,
            source_ip=call.caller.source_ip,
            user_agent=call.caller.user_agent,
            request_id=call.request_id,
            event_id=call.event_id,
        )
        record = build_record(
            event_name=call.operation, op=entry.model.operation_model(call.operation), rules=entry.rules,
            params=call.params, outcome=outcome, principal=principal, ctx=ctx, resources=refs,
            from_console=True,
        )  # fmt: skip
        return index_entry(record, encode_record(record), principal, int(now * 1000), refs)


@dataclass(frozen=True, slots=True)
class _Call:
    caller: Caller
    entry: ServiceEntry
    operation: str
    params: dict[str, Any]
    request_id: str
    event_id: str
