"""Journal benchmark: durable appends/s per backend and concurrency, and LookupEvents latency at scale.

Appends: ``c`` tasks share a queue of synthetic entries (bench/_events.py) and each awaits
``journal.append`` — durable (fsync / WAL flush) before it returns. Both journals write the
lookup keys behind the acknowledgement, so ``keyed/s`` also counts the time until the last key
is written (counters 'indexed' reaches the last seq): the rate at which events become
searchable, which a sustained load cannot outrun. Baseline, in the same run: the same rows
(events and their lookup keys) inserted in 2000-row transactions with no durability wait, one
after another, with the journal's own statements: SQLite ``executemany`` and INSERT … SELECT
(synchronous=OFF), PostgreSQL COPY and INSERT … SELECT (synchronous_commit=off). One more c=64
run appends to a journal already holding ``--preloaded`` events (bulk loaded as below), with
times after them as live traffic has: a journal whose cost grows with its size shows it here.

Lookups: ``--events`` entries spread over 90 days are bulk loaded (indexes dropped, rows
inserted in large transactions with the journal's own row layout, indexes rebuilt), then the
LookupEvents handler runs ``--queries`` first pages (MaxResults 50) per attribute kind, one at
a time, with values sampled from the data: p50 / p99 against the 50 ms target.

    python -m bench.journal                      # both backends, 1 M events
    python -m bench.journal --events 10000000    # the 10 M figure (tens of GB of disk, long load)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console
from rich.table import Table

from bench._events import EventFactory, LookupValues
from tests.unit.history.support import lookup
from tests.unit.journal.support import Backend, backend_of
from trailkeeper.journal import _pg_schema
from trailkeeper.journal._pg_rows import insert_events
from trailkeeper.journal._sqlite_ids import add_ids, fill_missing
from trailkeeper.journal._sqlite_keys import INSERT_EVENT, INSERT_KEYS, PART_EVENTS, SAVE_PARTS, event_row
from trailkeeper.journal.base import JournalEntry, LookupAttribute

__all__ = ["main"]

TARGETS = {"sqlite": 20_000, "postgres": 10_000}  # durable events/s on this 2-core machine (issue 6)
LOOKUP_TARGET_MS = 50.0
END_MS = 1_767_225_600_000  # 2026-01-01: "now" for the loaded history
KINDS: tuple[LookupAttribute | None, ...] = (
    None, "EventId", "EventName", "ReadOnly", "Username", "AccessKeyId", "EventSource", "ResourceType",
    "ResourceName",
)  # fmt: skip
_LOAD_CHUNK = 50_000


@dataclass
class AppendResult:
    backend: str
    concurrency: int
    count: int
    seconds: float
    latencies: list[float]
    commits: int
    keyed_seconds: float = 0.0  # until every lookup key was written too (searchable, not only durable)
    preloaded: int = 0  # events the journal held before the run

    @property
    def rate(self) -> float:
        return self.count / self.seconds


def _pct(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000


# -- appends ------------------------------------------------------------------------------------


async def _append_run(store: Backend, concurrency: int, entries: list[JournalEntry]) -> AppendResult:
    async with store.opened() as journal:
        pending = iter(entries)
        latencies: list[float] = []

        async def worker() -> None:
            for entry in pending:  # shared: each task takes the next entry
                started = time.perf_counter()
                await journal.append(entry)
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
        last = await journal.last_seq()
        while _indexed(store) < last:  # keys are written behind the acknowledgement, by both journals
            await asyncio.sleep(0.005)
        keyed = time.perf_counter() - started
        commits = journal.commits
    return AppendResult(store.kind, concurrency, len(entries), seconds, latencies, commits, keyed)


def _indexed(store: Backend) -> int:
    """counters 'indexed' (every event up to it has its lookup keys), read as any client would."""
    sql = "SELECT value FROM counters WHERE name = 'indexed'"
    if store.kind == "sqlite":
        with sqlite3.connect(store.location) as conn:
            row = conn.execute(sql).fetchone()
    else:
        with psycopg.connect(store.location) as pg:
            row = pg.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _raw_rows_sqlite(path: Path, entries: list[JournalEntry]) -> float:
    """events/s for the journal's own statements (executemany of the rows, then the keys by INSERT …
    SELECT) in 2000-row transactions with synchronous=OFF: no durability wait, no overlap."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    started = time.perf_counter()
    for first in range(0, len(entries), 2000):
        conn.execute("BEGIN")
        rows = [event_row(seq, e) for seq, e in enumerate(entries[first : first + 2000], first + 1)]
        conn.executemany(INSERT_EVENT, rows)
        chunk = {"after": first, "upto": first + len(rows), "part": PART_EVENTS}
        conn.execute(INSERT_KEYS, chunk)
        conn.execute(SAVE_PARTS, chunk)
        add_ids(conn, chunk)
        conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return len(entries) / seconds


def _raw_rows_postgres(url: str, entries: list[JournalEntry]) -> float:
    """events/s for the journal's own statements (COPY, then the keys by INSERT … SELECT) run
    serially in 2000-row transactions with synchronous_commit=off: no durability wait, no overlap."""
    keys = f"INSERT INTO lookup_keys ({_pg_schema.KEY_COLUMNS}) " + _pg_schema.KEYS_OF.format(
        source="events", where=" AND s.seq > %(after)s AND s.seq <= %(upto)s"
    )
    with psycopg.connect(url) as conn:
        conn.execute("SET synchronous_commit = off")
        started = time.perf_counter()
        for first in range(0, len(entries), 2000):
            rows = list(enumerate(entries[first : first + 2000], first + 1))
            with conn.cursor() as cur:
                insert_events(cur, rows)
                cur.execute(keys.encode(), {"after": first, "upto": first + len(rows)})
            conn.commit()
        return len(entries) / (time.perf_counter() - started)


async def _appends(
    kinds: Sequence[str], count: int, preloaded: int, tmp: Path, stack: ExitStack, console: Console
) -> list[AppendResult]:
    factory = EventFactory(seed=1)
    results: list[AppendResult] = []
    for kind in kinds:
        for concurrency in (1, 8, 64):
            n = max(500, count // 10) if concurrency == 1 else count
            entries = list(factory.entries(n, END_MS))
            store = stack.enter_context(backend_of(kind, tmp / f"{kind}-{concurrency}"))
            results.append(await _append_run(store, concurrency, entries))
        if preloaded:
            results.append(await _preloaded_run(kind, count, preloaded, tmp, stack, console))
        base = stack.enter_context(backend_of(kind, tmp / f"{kind}-raw"))
        async with base.opened():  # migrate only
            pass
        entries = list(factory.entries(count, END_MS))
        rate = (
            _raw_rows_sqlite(Path(base.location), entries)
            if kind == "sqlite"
            else _raw_rows_postgres(base.location, entries)
        )
        results.append(AppendResult(kind, 0, count, count / rate, [], 0))
    return results


async def _preloaded_run(
    kind: str, count: int, preloaded: int, tmp: Path, stack: ExitStack, console: Console
) -> AppendResult:
    """c=64 into a journal already holding ``preloaded`` events: does ingest hold up as it grows?
    The appended events come after the loaded ones in time, as live traffic does."""
    factory = EventFactory(seed=4)
    store = stack.enter_context(backend_of(kind, tmp / f"{kind}-preloaded"))
    async with store.opened():  # migrate only
        pass
    loaded = factory.entries(preloaded, END_MS)
    if kind == "sqlite":
        _load_sqlite(Path(store.location), loaded, console)
    else:
        _load_postgres(store.location, loaded, console)
    # The load writes without waiting for the disk: let the kernel flush it before the timed run
    # (a journal that grew to this size at its own pace has no gigabytes of dirty pages behind it).
    os.sync()
    live = [replace(e, event_time_ms=END_MS + i) for i, e in enumerate(factory.entries(count, END_MS))]
    result = await _append_run(store, 64, live)
    result.preloaded = preloaded
    return result


def _append_table(results: list[AppendResult]) -> Table:
    targets = ", ".join(f"{k} {v:,}/s" for k, v in TARGETS.items())
    table = Table(title=f"Durable appends (returned after fsync / WAL flush); targets: {targets}")
    for col in (
        "backend",
        "c",
        "events",
        "events/s",
        "÷ target",
        "÷ raw",
        "keyed/s",
        "commits",
        "p50 ms",
        "p99 ms",
    ):
        table.add_column(col, justify="right")
    baselines = {r.backend: r.rate for r in results if r.concurrency == 0}
    for r in results:
        if r.concurrency == 0:
            table.add_row(r.backend, "raw", str(r.count), f"{r.rate:,.0f}", "", "1.00", "", "", "", "")
            continue
        c = f"{r.concurrency} on {r.preloaded:,}" if r.preloaded else str(r.concurrency)
        table.add_row(
            r.backend, c, str(r.count), f"{r.rate:,.0f}",
            f"{r.rate / TARGETS[r.backend]:.2f}", f"{r.rate / baselines[r.backend]:.2f}",
            f"{r.count / r.keyed_seconds:,.0f}", str(r.commits),
            f"{_pct(r.latencies, 0.5):.2f}", f"{_pct(r.latencies, 0.99):.2f}",
        )  # fmt: skip
    return table


# -- lookups ------------------------------------------------------------------------------------


def _sqlite_rows(conn: sqlite3.Connection, rows: Iterable[tuple[int, JournalEntry]]) -> None:
    """Event rows only: the lookup keys are built afterwards (raw baseline: with every append's keys)."""
    conn.executemany(INSERT_EVENT, [event_row(seq, e) for seq, e in rows])


def _load_sqlite(path: Path, entries: Iterable[JournalEntry], console: Console) -> int:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    # The indexes the migrated schema has (migration 2 dropped some that migration 1 made).
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
    ).fetchall()
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    seq = 0
    chunk: list[tuple[int, JournalEntry]] = []
    for entry in entries:
        seq += 1
        chunk.append((seq, entry))
        if len(chunk) == _LOAD_CHUNK:
            conn.execute("BEGIN")
            _sqlite_rows(conn, chunk)
            conn.execute("COMMIT")
            chunk.clear()
    conn.execute("BEGIN")
    _sqlite_rows(conn, chunk)
    conn.execute("INSERT OR REPLACE INTO counters VALUES ('seq', ?)", (seq,))
    conn.execute("COMMIT")
    console.log(f"sqlite: {seq:,} rows in; rebuilding {len(indexes)} indexes and the lookup keys")
    for _, statement in indexes:
        conn.execute(statement)
    for after in range(0, seq, PART_EVENTS):  # one partition per statement: a sorted append each
        chunk_of = {"after": after, "upto": min(after + PART_EVENTS, seq), "part": PART_EVENTS}
        conn.execute(INSERT_KEYS, chunk_of)
        conn.execute(SAVE_PARTS, chunk_of)
    conn.execute("INSERT OR REPLACE INTO counters VALUES ('indexed', ?)", (seq,))
    fill_missing(conn, PART_EVENTS)  # the partitions' event-id filters, as a journal's writer builds them
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return seq


def _load_postgres(url: str, entries: Iterable[JournalEntry], console: Console) -> int:
    with psycopg.connect(url) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '1GB'")
        # The indexes the migrated schema has (migration 2 dropped some that migration 1 made).
        indexes = conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i LEFT JOIN pg_constraint c"
            " ON c.conname = i.indexname AND c.connamespace = current_schema()::regnamespace"
            " WHERE i.schemaname = current_schema() AND c.conname IS NULL"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f"DROP INDEX {name}".encode())
        conn.commit()
        seq = 0
        chunk: list[tuple[int, JournalEntry]] = []
        for entry in entries:
            seq += 1
            chunk.append((seq, entry))
            if len(chunk) == _LOAD_CHUNK:
                with conn.cursor() as cur:
                    insert_events(cur, chunk)
                conn.commit()
                chunk.clear()
        with conn.cursor() as cur:
            insert_events(cur, chunk)
            cur.execute("UPDATE counters SET value = %s WHERE name = 'seq'", (seq,))
        conn.commit()
        console.log(f"postgres: {seq:,} rows in; building the lookup keys and {len(indexes)} indexes")
        keys = f"INSERT INTO lookup_keys ({_pg_schema.KEY_COLUMNS}) " + _pg_schema.KEYS_OF.format(
            source="events", where=""
        )  # what migration 2 runs on an existing journal
        conn.execute(keys.encode(), {})
        conn.execute("UPDATE counters SET value = %s WHERE name = 'indexed'", (seq,))
        conn.commit()
        for _, statement in indexes:
            conn.execute(statement.encode())
            conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")  # what autovacuum would have done by now in production
    return seq


async def _lookup_latencies(
    store: Backend, values: LookupValues, queries: int, rng: random.Random
) -> dict[LookupAttribute | None, tuple[list[float], list[int]]]:
    out: dict[LookupAttribute | None, tuple[list[float], list[int]]] = {}
    now = {"now": _now()}
    async with store.opened() as journal:
        for kind in KINDS:
            samples = values.by_kind.get(kind, []) if kind else [(a, r, "") for a, r in values.scopes]
            latencies, sizes = [], []
            for i in range(queries + 10):  # the first 10 warm the caches and are not counted
                account, region, value = rng.choice(samples)
                params: dict[str, Any] = {"MaxResults": 50}
                if kind is not None:
                    params["LookupAttributes"] = [{"AttributeKey": kind, "AttributeValue": value}]
                started = time.perf_counter()
                page = await lookup(journal, params, account_id=account, region=region, **now)
                if i >= 10:
                    latencies.append(time.perf_counter() - started)
                    sizes.append(len(page["Events"]))
            out[kind] = (latencies, sizes)
    return out


def _now() -> datetime:
    return datetime.fromtimestamp(END_MS / 1000, UTC)


async def _lookups(
    kinds: Sequence[str], events: int, queries: int, tmp: Path, stack: ExitStack, console: Console
) -> Table:
    table = Table(title=f"LookupEvents first page (MaxResults 50) at {events:,} stored events, one at a time")
    for col in (
        "backend",
        "attribute",
        "p50 ms",
        "p99 ms",
        f"p99 ≤ {LOOKUP_TARGET_MS:.0f} ms",
        "events/page",
    ):
        table.add_column(col, justify="right")
    for kind in kinds:
        factory = EventFactory(seed=2)
        store = stack.enter_context(backend_of(kind, tmp / f"{kind}-lookups"))
        async with store.opened():  # migrate only
            pass
        started = time.perf_counter()
        entries = factory.entries(events, END_MS)
        loaded = (_load_sqlite(Path(store.location), entries, console) if kind == "sqlite"
                  else _load_postgres(store.location, entries, console))  # fmt: skip
        console.log(f"{kind}: loaded {loaded:,} events in {time.perf_counter() - started:.0f} s")
        results = await _lookup_latencies(store, factory.values, queries, random.Random(3))
        for attribute, (latencies, sizes) in results.items():
            p99 = _pct(latencies, 0.99)
            table.add_row(
                kind, attribute or "(none)", f"{_pct(latencies, 0.5):.2f}", f"{p99:.2f}",
                "yes" if p99 <= LOOKUP_TARGET_MS else "[red]no[/red]", f"{statistics.mean(sizes):.1f}",
            )  # fmt: skip
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.journal", description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--appends", type=int, default=30_000, help="appends per run (c=1: a tenth)")
    parser.add_argument("--events", type=int, default=1_000_000, help="stored events for the lookups")
    parser.add_argument(
        "--preloaded",
        type=int,
        default=1_000_000,
        help="events already stored for one more c=64 run (0: none)",
    )
    parser.add_argument("--queries", type=int, default=300, help="timed lookups per attribute kind")
    parser.add_argument("--skip-appends", action="store_true")
    parser.add_argument("--skip-lookups", action="store_true")
    parser.add_argument("--dir", type=Path, default=None, help="where SQLite files go (default: a temp dir)")
    args = parser.parse_args(argv)
    kinds = [k for k in args.backends.split(",") if k]
    console = Console()
    with ExitStack() as stack:
        tmp = args.dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tk-bench-")))
        if not args.skip_appends:
            results = asyncio.run(_appends(kinds, args.appends, args.preloaded, tmp, stack, console))
            console.print(_append_table(results))
        if not args.skip_lookups:
            console.print(asyncio.run(_lookups(kinds, args.events, args.queries, tmp, stack, console)))


if __name__ == "__main__":
    main()
