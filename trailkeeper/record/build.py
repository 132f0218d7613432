"""One executed call (operation, params, outcome, principal, context, rules) in, its CloudTrail record out.

Pure: the caller passes the time, ids and identity; nothing here reads a clock or does I/O.
Top-level keys follow the order of genuine delivered log files (reference/datasets.md §1.2):
eventVersion, userIdentity, eventTime, eventSource, eventName, awsRegion, sourceIPAddress,
userAgent, [errorCode, errorMessage], requestParameters, responseElements, [omitted], requestID,
eventID, readOnly, [resources], eventType, managementEvent, recipientAccountId, eventCategory,
[tlsDetails].
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from botocore.model import OperationModel

from trailkeeper.capture.identity.principal import Principal
from trailkeeper.capture.request import TlsInfo
from trailkeeper.capture.wire.types import Outcome
from trailkeeper.record.identity import format_event_time, user_identity
from trailkeeper.record.project import projection_for
from trailkeeper.record.rules import ANY, ResourceRule, ServiceRules
from trailkeeper.record.uri_form import uri_form

__all__ = [
    "EVENT_VERSION",
    "MAX_BODY_BYTES",
    "MAX_FIELD_BYTES",
    "CallContext",
    "ResourceRef",
    "build_record",
    "encode_record",
    "resource_refs",
    "short_name",
]

EVENT_VERSION = "1.11"
# requestParameters / responseElements over 100 KB are omitted (record-contents page). KB is read
# as 1024 bytes of compact JSON: UNCONFIRMED whether AWS counts 1000 or 1024, or another encoding.
MAX_BODY_BYTES = 100 * 1024
# userAgent, errorCode, errorMessage and requestID are truncated beyond 1 KB.
MAX_FIELD_BYTES = 1024


@dataclass(frozen=True, slots=True)
class CallContext:
    """What the gateway knows about one call besides its content: time, place, ids."""

    event_time: datetime  # when the call completed (UTC)
    region: str
    source_ip: str
    user_agent: str
    request_id: str
    event_id: str
    tls: TlsInfo | None = None
    partition: str = "aws"
    host: str = ""  # the Host header, for services that log it (S3)


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """One resource a call acted on: written to ``resources[]`` and indexed by name and by ARN."""

    type: str
    name: str
    arn: str
    account_id: str
    in_record: bool = True  # False: indexed for LookupEvents only, not written to resources[]


# -- resources ---------------------------------------------------------------------------


def _values_at(data: Any, steps: Sequence[str]) -> list[str]:
    """Every scalar at ``steps`` inside ``data`` (``[*]`` fans out over list elements / map values)."""
    current: list[Any] = [data]
    for token in steps:
        following: list[Any] = []
        for item in current:
            if token == ANY:
                if isinstance(item, list | tuple):
                    following.extend(item)
                elif isinstance(item, Mapping):
                    following.extend(item.values())
            elif isinstance(item, Mapping) and (child := item.get(token)) is not None:
                following.append(child)
        current = following
    return [str(v) for v in current if isinstance(v, str | int) and not isinstance(v, bool) and v != ""]


def short_name(arn: str) -> str:
    """The short name in an ARN: the last ``/`` (else ``:``) segment of its resource part.

    Every ARN template in the rules ends in ``{name}``, so this is also the name a rule resolved.
    """
    resource = arn.split(":", 5)[-1]
    return resource.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def _arn_parts(arn: str, fallback_account: str) -> tuple[str, str]:
    """(short name, account) of an ARN; an ARN without an account (S3 buckets) gets the fallback."""
    fields = arn.split(":", 5)
    account = fields[4] if len(fields) > 4 and fields[4] else fallback_account
    return short_name(arn), account


def _render(
    rule: ResourceRule, name: str, sources: Mapping[str, Any], context: Mapping[str, str]
) -> str | None:
    """The rule's ARN for one name, or None when a referenced request/response value is absent."""
    pieces: list[str] = []
    for part in rule.template:
        pieces.append(part.literal)
        if part.source is not None:
            found = _values_at(sources[part.source], part.steps)
            if not found:
                return None
            pieces.append(found[0])
        elif part.placeholder == "name":
            pieces.append(name)
        elif part.placeholder:
            pieces.append(context[part.placeholder])
    return "".join(pieces)


def _refs_of(
    rule: ResourceRule, sources: Mapping[str, Any], context: Mapping[str, str]
) -> Iterable[ResourceRef]:
    for value in _values_at(sources[rule.source], rule.steps):
        if value.startswith("arn:"):
            # The caller named the resource by ARN (RoleArn, SchemaArn, a trail ARN as Name).
            name, account = _arn_parts(value, context["account"])
            yield ResourceRef(rule.type, name, value, account, rule.in_record)
        elif rule.template and (arn := _render(rule, value, sources, context)) is not None:
            account = _arn_parts(arn, context["account"])[1]
            yield ResourceRef(rule.type, value, arn, account, rule.in_record)


def resource_refs(
    rules: ServiceRules,
    event_name: str,
    params: Mapping[str, Any] | None,
    output: Mapping[str, Any] | None,
    *,
    account: str,
    region: str,
    partition: str = "aws",
) -> tuple[ResourceRef, ...]:
    """The resources ``rules`` name for this call; a rule whose value is absent yields nothing."""
    sources = {"request": params or {}, "response": output or {}}
    context = {"partition": partition, "region": region, "account": account}
    refs: dict[tuple[str, str], ResourceRef] = {}
    for rule in rules.resources.get(event_name, ()):
        for ref in _refs_of(rule, sources, context):
            refs.setdefault((ref.type, ref.arn), ref)
    return tuple(refs.values())


# -- the record --------------------------------------------------------------------------


def _truncate(text: str, limit: int = MAX_FIELD_BYTES) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", errors="ignore")  # never split a character


def _capped(value: Any) -> tuple[Any, bool]:
    """(value, False), or (None, True) when its JSON is over the 100 KB cap."""
    if value is None or len(orjson.dumps(value)) <= MAX_BODY_BYTES:
        return value, False
    return None, True


def _request_parameters(
    op: OperationModel | None, rules: ServiceRules, params: Mapping[str, Any] | None, host: str
) -> Any:
    if op is None or params is None:
        return None
    if rules.uri_labels is not None:
        return uri_form(op, params, rules.uri_labels, host)
    # A call without parameters is logged as null, not {} (real GetDatabases record).
    return projection_for(rules, op, "input")(params) or None


def _response_elements(op: OperationModel | None, rules: ServiceRules, outcome: Outcome) -> Any:
    if op is None or outcome.error is not None or outcome.output is None or op.name in rules.null_response:
        return None
    # An empty answer is logged as null, not {} (Glue seed DeleteCrawler).
    return projection_for(rules, op, "output")(outcome.output) or None


def _tls_details(tls: TlsInfo) -> dict[str, str]:
    return {
        "tlsVersion": tls.tls_version,
        "cipherSuite": tls.cipher_suite,
        "clientProvidedHostHeader": tls.client_provided_host_header,
    }


def _add_call_content(
    record: dict[str, Any],
    op: OperationModel | None,
    rules: ServiceRules,
    params: Mapping[str, Any] | None,
    outcome: Outcome,
    host: str,
) -> None:
    """errorCode/errorMessage, requestParameters, responseElements (and the size-cap marker)."""
    if outcome.error is not None:
        record["errorCode"] = _truncate(outcome.error.code)
        record["errorMessage"] = _truncate(outcome.error.message)
    request, request_omitted = _capped(_request_parameters(op, rules, params, host))
    response, response_omitted = _capped(_response_elements(op, rules, outcome))
    record["requestParameters"] = request
    record["responseElements"] = response
    if request_omitted or response_omitted:
        # Where AWS puts this marker is UNCONFIRMED; reference/cloudtrail-spec.md §1.2 recommends a
        # top-level "omitted": true next to the nulled fields.
        record["omitted"] = True


def _resources_field(resources: Iterable[ResourceRef]) -> list[dict[str, str]]:
    # Key order of real records: accountId, type, ARN.
    return [{"accountId": r.account_id, "type": r.type, "ARN": r.arn} for r in resources if r.in_record]


def build_record(
    *,
    event_name: str,
    op: OperationModel | None,
    rules: ServiceRules,
    params: Mapping[str, Any] | None,
    outcome: Outcome,
    principal: Principal,
    ctx: CallContext,
    event_type: str = "AwsApiCall",
    resources: Sequence[ResourceRef] | None = None,
    additional_event_data: Mapping[str, Any] | None = None,
    from_console: bool = False,
) -> dict[str, Any]:
    """The CloudTrail record of one call. ``resources`` defaults to ``resource_refs(...)``.

    ``op`` None (the operation could not be resolved) gives requestParameters null and readOnly
    false. Pass ``params=None`` where AWS logs no parameters (e.g. an authorization failure:
    real AccessDenied AssumeRole records carry requestParameters null).
    ``additional_event_data`` is written after responseElements (real ConsoleLogin records);
    ``from_console`` adds ``sessionCredentialFromConsole: "true"`` last, as real records place it.
    """
    if resources is None:
        resources = resource_refs(
            rules, event_name, params, outcome.output,
            account=principal.account_id, region=ctx.region, partition=ctx.partition,
        )  # fmt: skip
    data_event = op is not None and op.name in rules.data_events
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": user_identity(principal),
        "eventTime": format_event_time(ctx.event_time),
        "eventSource": rules.event_source,
        "eventName": event_name,
        "awsRegion": ctx.region,
        "sourceIPAddress": ctx.source_ip,
        "userAgent": _truncate(ctx.user_agent),
    }
    _add_call_content(record, op, rules, params, outcome, ctx.host)
    if additional_event_data is not None:
        record["additionalEventData"] = dict(additional_event_data)
    record["requestID"] = _truncate(ctx.request_id)
    record["eventID"] = ctx.event_id
    record["readOnly"] = op is not None and op.name in rules.read_only
    if written := _resources_field(resources):
        record["resources"] = written
    record["eventType"] = event_type
    record["managementEvent"] = not data_event
    record["recipientAccountId"] = principal.account_id
    record["eventCategory"] = "Data" if data_event else "Management"
    if ctx.tls is not None:
        record["tlsDetails"] = _tls_details(ctx.tls)
    if from_console:
        # A string, not a boolean, in every real record; present only when true.
        record["sessionCredentialFromConsole"] = "true"
    return record


def encode_record(record: Mapping[str, Any]) -> bytes:
    """Compact JSON, keys in insertion order: the exact bytes stored, returned and delivered."""
    return orjson.dumps(record)
