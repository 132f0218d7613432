"""Synthetic but realistic journal entries: a seed in, JournalEntry values (and lookup values to query) out.

Shaped like a busy organisation's Glue / EMR Serverless history: a few large and many small
accounts, four regions, real operation names (from the botocore models, reads three times as
common as writes), a few hundred users with their keys, databases, tables and applications as
resources, event times spread over 90 days, 5 % data events, records of ~1-1.5 KB.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import botocore.session
import orjson

from trailkeeper.journal.base import JournalEntry, LookupAttribute

__all__ = ["WINDOW_MS", "EventFactory", "LookupValues"]

WINDOW_MS = 90 * 86_400_000
_REGIONS = ("us-east-1", "us-east-1", "us-east-1", "eu-west-1", "eu-west-1", "us-west-2", "ap-southeast-2")
_SOURCES = {"glue": "glue.amazonaws.com", "emr-serverless": "emr-serverless.amazonaws.com"}
_READ_PREFIXES = ("Get", "List", "Batch", "Search", "Describe")
_USER_AGENT = "aws-cli/2.27.0 md/Botocore#1.38.0 ua/2.1 os/linux"


@dataclass
class LookupValues:
    """Values seen while generating, per (account, region), to look up later."""

    scopes: list[tuple[str, str]] = field(default_factory=list)
    by_kind: dict[LookupAttribute, list[tuple[str, str, str]]] = field(default_factory=dict)

    def add(self, kind: LookupAttribute, entry: JournalEntry, value: str) -> None:
        self.by_kind.setdefault(kind, []).append((entry.account_id, entry.region, value))


class EventFactory:
    """Deterministic for a seed; ``entries(n, end_ms)`` spreads n events over the 90 days before end_ms."""

    def __init__(self, seed: int = 7) -> None:
        self._rng = random.Random(seed)
        rng = self._rng
        model = botocore.session.get_session()
        self._ops = [
            (service, op) for service in _SOURCES for op in model.get_service_model(service).operation_names
        ]
        self._reads = [op for op in self._ops if op[1].startswith(_READ_PREFIXES)]
        self._writes = [op for op in self._ops if not op[1].startswith(_READ_PREFIXES)]
        self._accounts = [f"{rng.randrange(10**11, 10**12)}" for _ in range(40)]
        self._account_weights = [1.0 / (i + 1) for i in range(len(self._accounts))]  # a few big ones
        self._users = [(f"user-{i:03d}", _key(rng, "AKIA")) for i in range(300)]
        self._roles = [(f"etl-session-{i:02d}", _key(rng, "ASIA")) for i in range(40)]
        self.values = LookupValues()

    def entries(self, count: int, end_ms: int) -> Iterator[JournalEntry]:
        """``count`` events in time order (a little jitter), the newest at most at ``end_ms``."""
        step = WINDOW_MS / max(count, 1)
        start = end_ms - WINDOW_MS
        for i in range(count):
            yield self.entry(int(start + i * step + self._rng.random() * step))

    def entry(self, time_ms: int) -> JournalEntry:
        rng = self._rng
        account = rng.choices(self._accounts, self._account_weights)[0]
        region = rng.choice(_REGIONS)
        service, name = rng.choice(self._reads if rng.random() < 0.75 else self._writes)
        read_only = name.startswith(_READ_PREFIXES)
        user, key = rng.choice(self._users if rng.random() < 0.8 else self._roles)
        resources = self._resources(rng, service, account, region)
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        request_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        record = _record(
            account,
            region,
            time_ms,
            (event_id, request_id),
            (service, name),
            read_only,
            (user, key),
            resources,
        )
        entry = JournalEntry(
            record, account, region, time_ms, event_id, name, _SOURCES[service], read_only, user, key,
            resources, rng.random() >= 0.05,
        )  # fmt: skip
        self._remember(entry)
        return entry

    def _resources(
        self, rng: random.Random, service: str, account: str, region: str
    ) -> tuple[tuple[str, str], ...]:
        return () if rng.random() < 0.2 else _RESOURCES[service](rng, account, region)

    def _remember(self, e: JournalEntry) -> None:
        if not e.management or self._rng.random() > 0.01:  # a 1 % sample is plenty to query
            return
        self.values.scopes.append((e.account_id, e.region))
        facets: tuple[tuple[LookupAttribute, str], ...] = (
            ("EventId", e.event_id), ("EventName", e.event_name), ("EventSource", e.event_source),
            ("ReadOnly", "true" if e.read_only else "false"), ("Username", e.username),
            ("AccessKeyId", e.access_key_id),
        )  # fmt: skip
        for kind, value in facets:
            self.values.add(kind, e, value)
        for rtype, rname in e.resources:
            self.values.add("ResourceType", e, rtype)
            self.values.add("ResourceName", e, rname)


def _glue_resources(rng: random.Random, account: str, region: str) -> tuple[tuple[str, str], ...]:
    db = f"db_{rng.randrange(400)}"
    pairs = [
        ("AWS::Glue::Database", db),
        ("AWS::Glue::Database", f"arn:aws:glue:{region}:{account}:database/{db}"),
    ]
    if rng.random() < 0.5:
        table = f"{db}/t_{rng.randrange(50)}"
        pairs += [
            ("AWS::Glue::Table", table),
            ("AWS::Glue::Table", f"arn:aws:glue:{region}:{account}:table/{table}"),
        ]
    return tuple(pairs)


def _emr_resources(rng: random.Random, account: str, region: str) -> tuple[tuple[str, str], ...]:
    app = f"00f{rng.randrange(16**12):012x}"
    arn = f"arn:aws:emr-serverless:{region}:{account}:/applications/{app}"
    return (("AWS::EMRServerless::Application", app), ("AWS::EMRServerless::Application", arn))


_RESOURCES = {"glue": _glue_resources, "emr-serverless": _emr_resources}


def _key(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))


def _record(
    account: str,
    region: str,
    time_ms: int,
    ids: tuple[str, str],
    operation: tuple[str, str],
    read_only: bool,
    who: tuple[str, str],
    resources: tuple[tuple[str, str], ...],
) -> bytes:
    (event_id, request_id), (service, name), (user, key) = ids, operation, who
    when = datetime.fromtimestamp(time_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    identity = {
        "type": "IAMUser",
        "principalId": "AIDA" + key[4:],
        "arn": f"arn:aws:iam::{account}:user/{user}",
        "accountId": account,
        "accessKeyId": key,
        "userName": user,
    }
    params = {"name": resources[0][1]} if resources else None
    return orjson.dumps(
        {
            "eventVersion": "1.11", "userIdentity": identity, "eventTime": when,
            "eventSource": _SOURCES[service], "eventName": name, "awsRegion": region,
            "sourceIPAddress": "203.0.113.24", "userAgent": _USER_AGENT,
            "requestParameters": params, "responseElements": None,
            "requestID": request_id, "eventID": event_id,
            "readOnly": read_only,
            "resources": [{"accountId": account, "type": t, "ARN": n} for t, n in resources[1::2]],
            "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": account,
            "eventCategory": "Management",
            "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                           "clientProvidedHostHeader": f"{service}.{region}.amazonaws.com"},
        }
    )  # fmt: skip
