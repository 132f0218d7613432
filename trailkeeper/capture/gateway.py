"""The gateway: the one chokepoint every call passes through.

HttpRequest → verify SigV4 → resolve and parse the operation → gate on the journal → execute
(our own handler or a backend) → build the CloudTrail record → make it durable → answer.
Nothing is answered before its record is durable, and a call the journal cannot record is
refused with 503 and not executed.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.model import OperationModel

from trailkeeper.capture.backends.base import Backend, BackendCall
from trailkeeper.capture.catalog import ServiceEntry
from trailkeeper.capture.identity.sigv4 import AuthFailure, Verified, peek_scope, verify_request
from trailkeeper.capture.request import HttpRequest
from trailkeeper.capture.sources import SourceAddress
from trailkeeper.capture.wire import (
    error_outcome,
    parse_backend_response,
    parse_request,
    render_error,
    render_output,
    resolve_operation,
    validate_required,
)
from trailkeeper.capture.wire.reserialize import canonical_request
from trailkeeper.capture.wire.types import CallError, Outcome, WireResponse
from trailkeeper.errors import AwsError, JournalUnavailable, internal_failure, service_unavailable
from trailkeeper.journal.base import JournalEntry
from trailkeeper.record.build import CallContext, build_record, encode_record, resource_refs
from trailkeeper.record.index import index_entry
from trailkeeper.services.registry import AppServices, CallEnv, handler_for

__all__ = ["Gateway", "GatewayCounters"]

log = logging.getLogger("trailkeeper.gateway")

UNKNOWN_OUTCOME = CallError(
    "InternalFailure", "The server stopped before this call completed; its outcome is unknown."
)


@dataclass(slots=True)
class GatewayCounters:
    """What the server counts but cannot record (no account to record it in, or no journal)."""

    calls: int = 0
    unknown_keys: int = 0
    unsigned: int = 0
    refused_journal_down: int = 0
    unrecorded_fail_open: int = 0
    internal_errors: int = 0


@dataclass(slots=True)
class _Call:
    """One call as it moves through the gateway."""

    req: HttpRequest
    request_id: str
    entry: ServiceEntry
    caller: Verified
    op: OperationModel | None = None
    event_name: str = ""
    params: dict[str, Any] | None = None
    event_id: str = field(default_factory=lambda: _new_id())


class Gateway:
    def __init__(
        self,
        app: AppServices,
        backends: Mapping[str, Backend],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._app = app
        self._backends = backends
        self._clock = clock
        self._sources = SourceAddress(app.settings.trusted_proxies)
        self.counters = GatewayCounters()
        # Executed calls whose record could not be appended: their reservation is durable (a
        # restart turns it into an "outcome unknown" event); the real record goes in as soon as
        # the journal writes again.
        self._waiting: dict[str, JournalEntry] = {}

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def handle(self, req: HttpRequest) -> WireResponse:
        self.counters.calls += 1
        request_id = _new_id()
        scope = peek_scope(req)
        entry = self._app.catalog.by_signing_name(scope.service) if scope else None
        if entry is None:
            entry = self._app.catalog.by_target(req.header("x-amz-target")) or _entry_by_route(
                self._app.catalog.entries(), req
            )
        try:
            caller = verify_request(
                req,
                store=self._app.identities,
                sessions=self._app.sessions,
                now=self._now(),
                max_skew_seconds=self._app.settings.max_skew_seconds,
            )
        except AuthFailure as err:
            return await self._refuse(req, request_id, entry, err)
        if entry is None or entry.signing_name != caller.scope.service:
            return self._error(entry, _unknown_service(caller.scope.service), request_id)
        return await self._serve(_Call(req, request_id, entry, caller))

    async def _serve(self, call: _Call) -> WireResponse:
        try:
            call.op = resolve_operation(call.entry, call.req)
            call.event_name = call.op.name
            call.params = parse_request(call.entry, call.op, call.req)
            # Every service checks its input as AWS does, before a backend can trip over it.
            validate_required(call.op, call.params, constraints=call.entry.rules.model_constraints)
        except AwsError as err:
            call.event_name = call.event_name or _target_name(call.req)
            return await self._record_and_answer(
                call, error_outcome(err, call.entry.protocol), self._error(call.entry, err, call.request_id)
            )
        read_only = call.event_name in call.entry.rules.read_only
        if not self._app.journal.writable() and not (read_only and self._app.settings.fail_open_reads):
            self.counters.refused_journal_down += 1
            log.warning("refused %s %s: journal cannot write", call.entry.name, call.event_name)
            return self._error(call.entry, _journal_down(), call.request_id)
        if not read_only:
            try:
                await self._app.journal.reserve(self._entry_for(call, Outcome(error=UNKNOWN_OUTCOME)))
            except JournalUnavailable:
                self.counters.refused_journal_down += 1
                return self._error(call.entry, _journal_down(), call.request_id)
        outcome, response = await self._execute(call)
        return await self._record_and_answer(call, outcome, response, reserved=not read_only)

    async def _execute(self, call: _Call) -> tuple[Outcome, WireResponse]:
        assert call.op is not None
        assert call.params is not None
        try:
            if call.entry.local:
                handler = handler_for(call.entry.name, call.op.name)
                if handler is None:
                    raise _not_supported(call.entry, call.op.name)
                env = CallEnv(
                    principal=call.caller.principal,
                    region=call.caller.scope.region,
                    request_id=call.request_id,
                    now=self._now(),
                    source_ip=self._sources.of(call.req),
                    app=self._app,
                )
                output = await handler(env, call.params)
                return Outcome(output=output), render_output(call.entry, call.op, output, call.request_id)
            backend = self._backends[call.entry.name]
            # The backend gets the call the record describes, serialized afresh from the parsed params.
            sent = canonical_request(call.entry.protocol, call.op, call.params, call.req)
            response = await backend.invoke(BackendCall(call.entry, call.op.name, sent, call.caller))
            if 200 <= response.status < 300 and not call.entry.rules.needs_response(call.op.name):
                return Outcome(), response  # logged with responseElements null: skip parsing the answer
            return parse_backend_response(call.entry, call.op, response), response
        except AwsError as err:
            return error_outcome(err, call.entry.protocol), self._error(call.entry, err, call.request_id)
        except Exception:
            # A bug in a handler or backend must still be recorded and answered, never a hang.
            self.counters.internal_errors += 1
            log.exception("internal error in %s.%s", call.entry.name, call.op.name)
            failure = internal_failure()
            return error_outcome(failure, call.entry.protocol), self._error(
                call.entry, failure, call.request_id
            )

    async def _record_and_answer(
        self, call: _Call, outcome: Outcome, response: WireResponse, *, reserved: bool = False
    ) -> WireResponse:
        entry = self._entry_for(call, outcome)
        try:
            await self._app.journal.append(entry)
        except JournalUnavailable:
            if entry.read_only and self._app.settings.fail_open_reads:
                self.counters.unrecorded_fail_open += 1
                log.warning("answered %s without a record (fail-open read)", call.event_name)
            elif reserved:  # the backend ran it: say so, and record it once the journal heals
                self.counters.refused_journal_down += 1
                self._waiting[entry.event_id] = entry
                log.error("could not record executed %s %s; held for the journal", call.entry.name,
                          call.event_name)  # fmt: skip
                return self._error(call.entry, _journal_lost_executed(), call.request_id)
            else:
                self.counters.refused_journal_down += 1
                log.error("could not record %s %s; answered 503", call.entry.name, call.event_name)
                return self._error(call.entry, _journal_down(), call.request_id)
        if self._waiting:
            await self._append_waiting()
        response.headers["x-amzn-requestid"] = call.request_id
        if call.entry.protocol == "rest-xml":
            response.headers["x-amz-request-id"] = call.request_id
        return response

    async def _append_waiting(self) -> None:
        """The journal wrote again: append the records of executed calls it refused earlier."""
        waiting, self._waiting = self._waiting, {}
        for event_id, entry in waiting.items():
            try:
                await self._app.journal.append(entry)  # replaces the reservation of the same event
            except JournalUnavailable:
                self._waiting[event_id] = entry
        if recorded := len(waiting) - len(self._waiting):
            log.warning("recorded %d executed call(s) the journal had refused", recorded)

    def _entry_for(self, call: _Call, outcome: Outcome) -> JournalEntry:
        now = self._clock()
        principal = call.caller.principal
        refs = resource_refs(
            call.entry.rules,
            call.event_name,
            call.params,
            outcome.output,
            account=principal.account_id,
            region=call.caller.scope.region,
        )
        record = build_record(
            event_name=call.event_name,
            op=call.op,
            rules=call.entry.rules,
            params=call.params,
            outcome=outcome,
            principal=principal,
            ctx=CallContext(
                event_time=datetime.fromtimestamp(now, UTC),
                region=call.caller.scope.region,
                source_ip=self._sources.of(call.req),
                user_agent=call.req.header("user-agent"),
                request_id=call.request_id,
                event_id=call.event_id,
                tls=call.req.tls,
                host=call.req.host,
            ),
            resources=refs,
        )
        return index_entry(record, encode_record(record), principal, int(now * 1000), refs)

    async def _refuse(
        self, req: HttpRequest, request_id: str, entry: ServiceEntry | None, err: AuthFailure
    ) -> WireResponse:
        """A refused signature is recorded in the key's account when the key is known."""
        if err.principal is None or err.scope is None or entry is None:
            if err.scope is None:
                self.counters.unsigned += 1
            else:
                self.counters.unknown_keys += 1
            log.info(
                "refused unauthenticated call: %s (access key %s, peer %s)",
                err.code,
                err.scope.access_key_id if err.scope else "-",
                self._sources.of(req),
            )
            return self._error(entry, err, request_id)
        caller = Verified(principal=err.principal, secret_access_key="", scope=err.scope, presigned=False)
        call = _Call(req, request_id, entry, caller)
        try:
            call.op = resolve_operation(entry, req)
            call.event_name = call.op.name
            call.params = parse_request(entry, call.op, req)
        except AwsError:
            call.event_name = call.event_name or _target_name(req)
        if not call.event_name:
            return self._error(entry, err, request_id)
        return await self._record_and_answer(
            call, error_outcome(err, entry.protocol), self._error(entry, err, request_id)
        )

    def _error(self, entry: ServiceEntry | None, err: AwsError, request_id: str) -> WireResponse:
        protocol = entry.protocol if entry else "json"
        namespace = entry.model.metadata.get("xmlNamespace") if entry else None
        return render_error(protocol, err, request_id, xml_namespace=namespace)


def _new_id() -> str:
    """``str(uuid.uuid4())``, at half its cost: a random UUID, version 4, RFC 4122 variant."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40
    raw[8] = raw[8] & 0x3F | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_ROUTE_ORDER = {"query": 0, "rest-json": 1, "rest-xml": 2}  # S3's catch-all paths go last


def _entry_by_route(entries: list[ServiceEntry], req: HttpRequest) -> ServiceEntry | None:
    """The service an unsigned request's method and path (or query Action) belong to, so that its
    refusal comes in that service's wire format (S3 clients expect XML ``AccessDenied``)."""
    for entry in sorted(entries, key=lambda e: _ROUTE_ORDER.get(e.protocol, 9)):
        if entry.protocol not in _ROUTE_ORDER:
            continue
        try:
            resolve_operation(entry, req)
        except AwsError:
            continue
        return entry
    return None


def _target_name(req: HttpRequest) -> str:
    """The operation a JSON call named, even when the model does not know it (recorded as sent)."""
    target = req.header("x-amz-target")
    return target.rpartition(".")[2][:128] if target else ""


def _journal_down() -> AwsError:
    return service_unavailable(
        "The audit journal cannot record this call right now; it was not executed. Retry later."
    )


def _journal_lost_executed() -> AwsError:
    return service_unavailable(
        "The audit journal could not record this call after it was executed; its record will be "
        "written as soon as the journal can write. Check the outcome before retrying."
    )


def _unknown_service(name: str) -> AwsError:
    return AwsError(
        "UnrecognizedClientException",
        f"This endpoint does not serve the service '{name}' named in the credential scope.",
        400,
        codes={"query": "InvalidAction"},
    )


def _not_supported(entry: ServiceEntry, operation: str) -> AwsError:
    return AwsError(
        "UnsupportedOperationException",
        f"{entry.model.service_id} {operation} is not supported by this server.",
        400,
        codes={"query": "UnsupportedOperation"},
    )
