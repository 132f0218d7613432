"""Log files: journal events in, AWS-named single-member gzip ``{"Records":[…]}`` files out (pure, no I/O).

The key layout, body shape and gzip framing follow cloudtrail-spec.md §2 and datasets.md §1.2:
``[prefix/]AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/
ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHmmZ_UNIQUE16.json.gz``, dated by the delivery time (UTC).
"""

from __future__ import annotations

import gzip
import hashlib
import secrets
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from trailkeeper.journal.base import StoredEvent

__all__ = [
    "CONTENT_ENCODING",
    "CONTENT_TYPE",
    "EMPTY_BODY_BYTES",
    "FileGroup",
    "RenderedFile",
    "body_of",
    "log_key",
    "render",
    "split_into_files",
    "unique_id",
]

# What CloudTrail's objects carry (S3 console metadata of real trail buckets: a JSON document
# transported gzip-encoded). UNCONFIRMED by a primary AWS document; no AWS tool reads these headers.
CONTENT_TYPE = "application/json"
CONTENT_ENCODING = "gzip"

_OPEN, _CLOSE, _COMMA = b'{"Records":[', b"]}\n", b","
EMPTY_BODY_BYTES = len(_OPEN) + len(_CLOSE)  # the body of a file with no record
_ALPHANUMERIC = string.ascii_letters + string.digits
_UNIQUE_LENGTH = 16
# Deterministic gzip header (no timestamp): a replayed batch writes byte-identical objects.
_GZIP_MTIME = 0
_GZIP_LEVEL = 6  # zlib's default: within a few percent of level 9 on JSON at a third of the CPU


@dataclass(frozen=True, slots=True)
class FileGroup:
    """The events of one planned log file: one account, one region, ascending seqs."""

    account_id: str
    region: str
    events: tuple[StoredEvent, ...]

    @property
    def seqs(self) -> tuple[int, ...]:
        return tuple(event.seq for event in self.events)


@dataclass(frozen=True, slots=True)
class RenderedFile:
    """A log file ready to store: the gzip bytes plus what the delivered-files index keeps."""

    gzip_body: bytes
    sha256: str  # lowercase hex of the uncompressed body (what digest files list)
    oldest_event_ms: int
    newest_event_ms: int
    uncompressed_bytes: int


def unique_id() -> str:
    """16 random alphanumerics, the collision guard at the end of every log file name."""
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(_UNIQUE_LENGTH))


def log_key(
    *,
    prefix: str | None,
    org_id: str | None,
    account_id: str,
    region: str,
    delivered_ms: int,
    unique: str,
) -> str:
    """The object key AWS gives a log file delivered at ``delivered_ms`` (UTC date folders and stamp)."""
    at = datetime.fromtimestamp(delivered_ms / 1000, tz=UTC)
    # The prefix is used verbatim, as AWS does: a trailing "/" in it yields "prefix//AWSLogs".
    head = f"{prefix}/AWSLogs/" if prefix else "AWSLogs/"
    org = f"{org_id}/" if org_id else ""
    name = f"{account_id}_CloudTrail_{region}_{at:%Y%m%dT%H%MZ}_{unique}.json.gz"
    return f"{head}{org}{account_id}/CloudTrail/{region}/{at:%Y/%m/%d}/{name}"


def split_into_files(events: Iterable[StoredEvent], max_file_bytes: int) -> list[FileGroup]:
    """Group events by (account, region), then cut each group so no body exceeds ``max_file_bytes``.

    A single record larger than the bound still gets a file of its own: dropping it would lose
    an event, and AWS's own bound (50 MB compressed) is far above any record we make.
    """
    by_group: dict[tuple[str, str], list[StoredEvent]] = {}
    for event in events:
        by_group.setdefault((event.entry.account_id, event.entry.region), []).append(event)
    files: list[FileGroup] = []
    for (account_id, region), members in by_group.items():
        files += [FileGroup(account_id, region, tuple(part)) for part in _cut(members, max_file_bytes)]
    return files


def _cut(events: list[StoredEvent], max_file_bytes: int) -> list[list[StoredEvent]]:
    parts: list[list[StoredEvent]] = [[]]
    size = EMPTY_BODY_BYTES
    for event in events:
        cost = len(event.entry.record) + (len(_COMMA) if parts[-1] else 0)
        if parts[-1] and size + cost > max_file_bytes:
            parts.append([])
            size, cost = EMPTY_BODY_BYTES, len(event.entry.record)
        parts[-1].append(event)
        size += cost
    return parts


def body_of(records: Sequence[bytes]) -> bytes:
    """The compact ``{"Records":[…]}`` document, newline-terminated, from the stored record bytes as is."""
    return b"".join((_OPEN, _COMMA.join(records), _CLOSE))


def render(events: Sequence[StoredEvent]) -> RenderedFile:
    """Encode one file: concatenated record bytes (never re-serialised), one gzip member."""
    body = body_of([event.entry.record for event in events])
    times = [event.entry.event_time_ms for event in events]
    return RenderedFile(
        gzip_body=gzip.compress(body, compresslevel=_GZIP_LEVEL, mtime=_GZIP_MTIME),
        sha256=hashlib.sha256(body).hexdigest(),
        oldest_event_ms=min(times, default=0),
        newest_event_ms=max(times, default=0),
        uncompressed_bytes=len(body),
    )
