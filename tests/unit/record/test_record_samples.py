"""Real delivered records (invictus-ir, 2023) rebuilt by build_record, byte for byte.

For every STS and CloudTrail API record made with reconstructable credentials (an IAM user key or
an assumed role, not a console session or an AWS service), the call's parameters and answer are
recovered from the record through the botocore model, the record is rebuilt, and it must equal
the delivered one except for eventVersion and the session token we never store.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

from trailkeeper.capture.identity.principal import Principal, SessionInfo, SessionIssuer
from trailkeeper.capture.request import TlsInfo
from trailkeeper.capture.wire.types import CallError, Outcome
from trailkeeper.record.build import CallContext, build_record
from trailkeeper.record.project import HIDDEN, lower_first
from trailkeeper.record.rules import ServiceRules

from .support import AWS_ORDER, SAMPLES, invictus_records

SOURCES = {"sts.amazonaws.com": "sts", "cloudtrail.amazonaws.com": "cloudtrail"}
BODY_TIME = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}:\d{2} [AP]M$")


def _unproject(shape: Shape, value: Any) -> Any:
    """The parsed (PascalCase, typed) value a record's lowerCamel JSON came from."""
    if isinstance(shape, StructureShape):
        names = {lower_first(name): name for name in shape.members}
        return {names[k]: _unproject(shape.members[names[k]], v) for k, v in value.items()}
    if isinstance(shape, ListShape):
        return [_unproject(shape.member, v) for v in value]
    if isinstance(shape, MapShape):
        return {k: _unproject(shape.value, v) for k, v in value.items()}
    if shape.type_name == "timestamp" and isinstance(value, str) and BODY_TIME.match(value):
        return datetime.strptime(value, "%b %d, %Y, %I:%M:%S %p").replace(tzinfo=UTC)
    return value


def _principal(identity: dict[str, Any]) -> Principal | None:
    context = identity.get("sessionContext")
    session = None
    if context is not None:
        issuer = context.get("sessionIssuer")
        if issuer == {} or "ec2RoleDelivery" in context:
            return None  # console and EC2 instance-profile sessions: not something our gateway issues
        attributes = context["attributes"]
        created = datetime.fromisoformat(attributes["creationDate"].replace("Z", "+00:00"))
        session = SessionInfo(
            issuer=SessionIssuer(
                issuer["type"], issuer["principalId"], issuer["arn"], issuer["accountId"], issuer["userName"]
            )
            if issuer
            else None,
            creation_date=created,
            expiration=created,
            mfa_authenticated=attributes["mfaAuthenticated"] == "true",
        )
    return Principal(
        type=identity["type"],
        account_id=identity["accountId"],
        arn=identity["arn"],
        principal_id=identity["principalId"],
        access_key_id=identity["accessKeyId"],
        user_name=identity.get("userName"),
        session=session,
    )


def _rebuildable(record: dict[str, Any]) -> bool:
    identity = record["userIdentity"]
    return (
        record["eventSource"] in SOURCES
        and identity.get("type") in ("IAMUser", "AssumedRole")
        and "invokedBy" not in identity
        and "sessionCredentialFromConsole" not in record
        and _principal(identity) is not None
    )


def _context(record: dict[str, Any]) -> CallContext:
    tls = record.get("tlsDetails")
    return CallContext(
        event_time=datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00")),
        region=record["awsRegion"],
        source_ip=record["sourceIPAddress"],
        user_agent=record["userAgent"],
        request_id=record["requestID"],
        event_id=record["eventID"],
        tls=TlsInfo(tls["tlsVersion"], tls["cipherSuite"], tls["clientProvidedHostHeader"]) if tls else None,
    )


def _rebuild(
    record: dict[str, Any], models: dict[str, ServiceModel], rules: dict[str, ServiceRules]
) -> dict[str, Any]:
    service = SOURCES[record["eventSource"]]
    op = models[service].operation_model(record["eventName"])
    assert op.input_shape is not None
    assert op.output_shape is not None
    params = record["requestParameters"]
    if "errorCode" in record:
        outcome = Outcome(error=CallError(record["errorCode"], record["errorMessage"]))
    else:
        outcome = Outcome(output=_unproject(op.output_shape, record["responseElements"] or {}))
    principal = _principal(record["userIdentity"])
    assert principal is not None
    return build_record(
        event_name=record["eventName"],
        op=op,
        rules=rules[service],
        params=None if params is None else _unproject(op.input_shape, params),
        outcome=outcome,
        principal=principal,
        ctx=_context(record),
    )


def _expected(record: dict[str, Any]) -> dict[str, Any]:
    """The delivered record as we must write it: our eventVersion, no session token."""
    expected = dict(record, eventVersion="1.11")
    credentials = (record.get("responseElements") or {}).get("credentials")
    if credentials and "sessionToken" in credentials:
        response = dict(record["responseElements"])
        response["credentials"] = dict(credentials, sessionToken=HIDDEN)
        expected["responseElements"] = response
    return expected


def test_build_record_rebuilds_real_sts_and_cloudtrail_records_byte_for_byte(
    models: dict[str, ServiceModel], rules: dict[str, ServiceRules]
) -> None:
    real = [r for r in invictus_records() if _rebuildable(r)]
    names = {r["eventName"] for r in real}
    # The set covers credential issuing, identity lookups, trail reads and trail changes, with errors.
    assert {"AssumeRole", "GetCallerIdentity", "CreateTrail", "StartLogging", "DescribeTrails"} <= names
    assert any("errorCode" in r for r in real)
    for record in real:
        ours = _rebuild(record, models, rules)
        assert orjson.dumps(ours) == orjson.dumps(_expected(record)), record["eventID"]


def _classified_samples() -> Iterator[dict[str, Any]]:
    """Real records that carry a boolean readOnly: invictus-ir, stratus-red-team and the Glue set."""
    yield from invictus_records()
    for path in sorted((SAMPLES / "stratus-red-team_detonation-logs").glob("*.json")):
        yield from orjson.loads(path.read_bytes())
    for line in (SAMPLES / "glue_emr_records.jsonl").read_text("utf-8").splitlines():
        yield orjson.loads(line)


def test_real_records_read_only_matches_our_classification(rules: dict[str, ServiceRules]) -> None:
    services = {**SOURCES, "glue.amazonaws.com": "glue"}
    checked = set()
    for record in _classified_samples():
        if record.get("eventSource") in services and isinstance(record.get("readOnly"), bool):
            loaded = rules[services[record["eventSource"]]]
            assert (record["eventName"] in loaded.read_only) is record["readOnly"], record["eventName"]
            checked.add(record["eventName"])
    assert {
        "AssumeRole",
        "GetCallerIdentity",
        "GetFederationToken",
        "GetPartition",
        "LookupEvents",
    } <= checked


def test_real_records_top_level_types_match_ours(
    models: dict[str, ServiceModel], rules: dict[str, ServiceRules]
) -> None:
    kinds: dict[str, set[type]] = {}
    for record in invictus_records():
        if record.get("eventType") == "AwsApiCall":
            for key, value in record.items():
                kinds.setdefault(key, set()).add(type(value))
    ours = [_rebuild(r, models, rules) for r in invictus_records() if _rebuildable(r)]
    for record in ours:
        for key, value in record.items():
            assert type(value) in kinds[key], key
    assert kinds["readOnly"] == {bool}
    assert kinds["managementEvent"] == {bool}


def test_real_records_top_level_keys_follow_the_order_we_write() -> None:
    for record in invictus_records():
        positions = [AWS_ORDER.index(key) for key in record if key in AWS_ORDER]
        assert positions == sorted(positions), record["eventID"]
