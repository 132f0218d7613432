"""Both journals, one contract: append, lookup, paging, group commit, reservations, prune, secrets, close."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from trailkeeper.errors import JournalUnavailable
from trailkeeper.journal.base import JournalEntry, LookupAttribute

from .support import ACCOUNT, OTHER_ACCOUNT, REGION, T0, Backend, db_resource, event_ids, make_entry, query

# One entry per lookup facet, oldest first: every attribute kind has something to match and to skip.
SALES = make_entry(T0 + 1, event_name="GetDatabase", resources=db_resource("sales"))
HR = make_entry(T0 + 2, event_name="CreateDatabase", read_only=False, resources=db_resource("hr"))
APP = make_entry(
    T0 + 3,
    event_name="CreateApplication",
    event_source="emr-serverless.amazonaws.com",
    read_only=False,
    username="bob",
    access_key_id="AKIABOB0000000000001",
    resources=(
        ("AWS::EMRServerless::Application", "00f1abc"),
        (
            "AWS::EMRServerless::Application",
            f"arn:aws:emr-serverless:{REGION}:{ACCOUNT}:/applications/00f1abc",
        ),
    ),
)
BOB_READ = make_entry(T0 + 4, username="bob", access_key_id="AKIABOB0000000000001")
FACETS = (SALES, HR, APP, BOB_READ)


def _ids(*entries: JournalEntry) -> list[str]:
    return [e.event_id for e in entries]


def test_append_then_lookup_returns_entry_unchanged_with_its_seq(backend: Backend) -> None:
    async def scenario() -> None:
        async with backend.opened() as journal:
            seq = await journal.append(SALES)
            page = await journal.lookup(query())
            assert [(s.seq, s.entry) for s in page.events] == [(seq, SALES)]
            assert not page.more

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        (("EventId", APP.event_id), _ids(APP)),
        (("EventName", "GetDatabase"), _ids(BOB_READ, SALES)),
        (("EventName", "getdatabase"), []),  # exact, case-sensitive
        (("ReadOnly", "true"), _ids(BOB_READ, SALES)),
        (("ReadOnly", "false"), _ids(APP, HR)),
        (("ReadOnly", "TRUE"), []),
        (("Username", "bob"), _ids(BOB_READ, APP)),
        (("AccessKeyId", "AKIAALICE0000000001X"), _ids(HR, SALES)),
        (("EventSource", "emr-serverless.amazonaws.com"), _ids(APP)),
        (("ResourceType", "AWS::Glue::Database"), _ids(HR, SALES)),  # each event once, not once per name
        (("ResourceName", "sales"), _ids(SALES)),
        (("ResourceName", f"arn:aws:glue:{REGION}:{ACCOUNT}:database/hr"), _ids(HR)),
        (("ResourceName", "00f1abc"), _ids(APP)),
    ],
    ids=lambda v: "-".join(v) if isinstance(v, tuple) else None,
)
def test_lookup_by_attribute_finds_exactly_the_matching_events_newest_first(
    backend: Backend, attribute: tuple[LookupAttribute, str], expected: list[str]
) -> None:
    async def scenario() -> None:
        async with backend.opened() as journal:
            for entry in FACETS:
                await journal.append(entry)
            page = await journal.lookup(query(attribute=attribute))
            assert event_ids(page.events) == expected
            assert all(
                s.entry == next(e for e in FACETS if e.event_id == s.entry.event_id) for s in page.events
            )

    asyncio.run(scenario())


def test_lookup_time_range_is_inclusive_at_both_ends(backend: Backend) -> None:
    entries = [make_entry(T0 + i * 1000) for i in range(5)]

    async def scenario() -> None:
        async with backend.opened() as journal:
            for entry in entries:
                await journal.append(entry)
            page = await journal.lookup(query(start_ms=T0 + 1000, end_ms=T0 + 3000))
            assert event_ids(page.events) == _ids(entries[3], entries[2], entries[1])

    asyncio.run(scenario())


def test_lookup_orders_by_event_time_then_seq_not_by_arrival(backend: Backend) -> None:
    late, same_a, same_b, early = (
        make_entry(T0 + 50),
        make_entry(T0 + 10),
        make_entry(T0 + 10),
        make_entry(T0),
    )

    async def scenario() -> None:
        async with backend.opened() as journal:
            for entry in (late, same_a, same_b, early):
                await journal.append(entry)
            page = await journal.lookup(query())
            assert event_ids(page.events) == _ids(late, same_b, same_a, early)

    asyncio.run(scenario())


def test_lookup_keyset_pages_have_no_gaps_or_duplicates_while_events_arrive(backend: Backend) -> None:
    existing = [make_entry(T0 + i * 10) for i in range(25)]

    async def scenario() -> None:
        async with backend.opened() as journal:
            await asyncio.gather(*(journal.append(e) for e in existing))
            seen: list[str] = []
            after: tuple[int, int] | None = None
            for round_ in range(100):
                page = await journal.lookup(query(limit=7, after=after))
                seen += event_ids(page.events)
                # Between pages, newer events and one back-dated event arrive.
                await journal.append(make_entry(T0 + 10_000 + round_))
                await journal.append(make_entry(T0 + 5 + round_ * 10))
                if not page.more:
                    break
                last = page.events[-1]
                after = (last.entry.event_time_ms, last.seq)
            assert len(seen) == len(set(seen))
            assert set(_ids(*existing)) <= set(seen)

    asyncio.run(scenario())


def test_lookup_sees_only_its_account_and_region_and_only_management_events(backend: Backend) -> None:
    mine = make_entry(T0)
    others = [
        make_entry(T0, account_id=OTHER_ACCOUNT),
        make_entry(T0, region="eu-west-1"),
        make_entry(T0, management=False, event_name="GetTable"),
    ]

    async def scenario() -> None:
        async with backend.opened() as journal:
            for entry in (mine, *others):
                await journal.append(entry)
            assert event_ids((await journal.lookup(query())).events) == _ids(mine)
            other = await journal.lookup(query(account_id=OTHER_ACCOUNT))
            assert event_ids(other.events) == _ids(others[0])

    asyncio.run(scenario())


def test_resource_lookup_counts_each_event_once_when_paging(backend: Backend) -> None:
    first, second = make_entry(T0, resources=db_resource("a")), make_entry(T0 + 1, resources=db_resource("b"))

    async def scenario() -> None:
        async with backend.opened() as journal:
            await journal.append(first)
            await journal.append(second)
            by_type: tuple[LookupAttribute, str] = ("ResourceType", "AWS::Glue::Database")
            page = await journal.lookup(query(attribute=by_type, limit=1))
            assert (event_ids(page.events), page.more) == (_ids(second), True)
            after = (second.event_time_ms, page.events[0].seq)
            page = await journal.lookup(query(attribute=by_type, limit=1, after=after))
            assert (event_ids(page.events), page.more) == (_ids(first), False)

    asyncio.run(scenario())


def test_concurrent_appends_get_distinct_seqs_in_fewer_commits(backend: Backend) -> None:
    entries = [make_entry(T0 + i) for i in range(500)]

    async def scenario() -> None:
        async with backend.opened() as journal:
            commits_before = journal.commits
            seqs = await asyncio.gather(*(journal.append(e) for e in entries))
            assert len(set(seqs)) == 500
            assert journal.commits - commits_before < 500
            stored: list[str] = []
            after: tuple[int, int] | None = None
            while True:
                page = await journal.lookup(query(after=after))
                stored += event_ids(page.events)
                if not page.more:
                    break
                after = (page.events[-1].entry.event_time_ms, page.events[-1].seq)
            assert sorted(stored) == sorted(_ids(*entries))

    asyncio.run(scenario())


def test_duplicate_event_id_raises_for_that_append_only(backend: Backend) -> None:
    original = make_entry(T0)
    duplicate = make_entry(T0 + 1, event_id=original.event_id)
    neighbours = [make_entry(T0 + 2 + i) for i in range(20)]

    async def scenario() -> None:
        async with backend.opened() as journal:
            await journal.append(original)
            results = await asyncio.gather(
                *(journal.append(e) for e in (*neighbours[:10], duplicate, *neighbours[10:])),
                return_exceptions=True,
            )
            assert [type(r) for r in results].count(ValueError) == 1
            assert isinstance(results[10], ValueError)
            page = await journal.lookup(query())
            assert sorted(event_ids(page.events)) == sorted(_ids(original, *neighbours))

    asyncio.run(scenario())


def test_reservation_is_removed_by_append_and_release_and_kept_otherwise(backend: Backend) -> None:
    appended, released, orphan = make_entry(T0), make_entry(T0 + 1), make_entry(T0 + 2)
    fallback = make_entry(T0, event_id=appended.event_id, errorCode="OutcomeUnknown")

    async def scenario() -> None:
        async with backend.opened() as journal:
            await journal.reserve(fallback)
            await journal.append(appended)
            await journal.reserve(released)
            await journal.release(released.event_id)
            await journal.reserve(orphan)  # never completed: its call's outcome is unknown
            assert event_ids((await journal.lookup(query())).events) == _ids(appended)
        async with backend.opened() as journal:
            page = await journal.lookup(query())
            assert [s.entry for s in page.events] == [orphan, appended]

    asyncio.run(scenario())


def test_prune_deletes_older_events_and_their_resources_in_chunks(backend: Backend) -> None:
    cutoff = T0 + 10_000
    old = [make_entry(T0 + i, resources=db_resource("old")) for i in range(2100)]  # over two chunks
    new = [make_entry(cutoff), make_entry(cutoff + 1, resources=db_resource("new"))]

    async def scenario() -> None:
        async with backend.opened() as journal:
            await asyncio.gather(*(journal.append(e) for e in (*old, *new)))
            deleted = await journal.prune(datetime.fromtimestamp(cutoff / 1000, UTC))
            assert deleted == len(old)
            assert sorted(event_ids((await journal.lookup(query())).events)) == sorted(_ids(*new))
            assert (await journal.lookup(query(attribute=("ResourceName", "old")))).events == []
            assert await journal.prune(datetime.fromtimestamp(cutoff / 1000, UTC)) == 0

    asyncio.run(scenario())


def test_seqs_never_repeat_after_pruning_everything_and_reopening(backend: Backend) -> None:
    async def scenario() -> None:
        async with backend.opened() as journal:
            last = max([await journal.append(make_entry(T0 + i)) for i in range(3)])
            assert await journal.prune(datetime(2100, 1, 1, tzinfo=UTC)) == 3
        async with backend.opened() as journal:
            assert await journal.append(make_entry(T0)) == last + 1

    asyncio.run(scenario())


def test_get_or_create_secret_keeps_the_first_value_across_reopen(backend: Backend) -> None:
    async def scenario() -> None:
        async with backend.opened() as journal:
            assert await journal.get_or_create_secret("k", b"first") == b"first"
            assert await journal.get_or_create_secret("k", b"second") == b"first"
            assert await journal.get_or_create_secret("other", b"x") == b"x"
        async with backend.opened() as journal:
            assert await journal.get_or_create_secret("k", b"third") == b"first"

    asyncio.run(scenario())


def test_events_survive_close_and_reopen(backend: Backend) -> None:
    async def scenario() -> None:
        async with backend.opened() as journal:
            seqs = [await journal.append(e) for e in FACETS]
        async with backend.opened() as journal:
            page = await journal.lookup(query())
            assert [(s.seq, s.entry) for s in page.events] == list(zip(seqs, FACETS, strict=True))[::-1]

    asyncio.run(scenario())


def test_close_is_idempotent_and_later_calls_raise_journal_unavailable(backend: Backend) -> None:
    async def scenario() -> None:
        journal = backend.journal()
        with pytest.raises(JournalUnavailable):
            await journal.append(make_entry())  # not opened yet
        await journal.open()
        await journal.close()
        await journal.close()
        assert not journal.writable()
        with pytest.raises(JournalUnavailable):
            await journal.append(make_entry())
        with pytest.raises(JournalUnavailable):
            await journal.lookup(query())

    asyncio.run(scenario())


def test_read_after_returns_every_later_event_ascending_across_accounts_and_kinds(backend: Backend) -> None:
    entries = [
        make_entry(T0 + 5),
        make_entry(T0, account_id=OTHER_ACCOUNT, resources=db_resource("x", OTHER_ACCOUNT)),
        make_entry(T0 + 9, region="eu-west-1"),
        make_entry(T0 + 1, management=False),  # a data event: delivered, though not in event history
    ]

    async def scenario() -> None:
        async with backend.opened() as journal:
            seqs = [await journal.append(e) for e in entries]
            everything = await journal.read_after(0, 100)
            assert [(s.seq, s.entry) for s in everything] == list(zip(seqs, entries, strict=True))
            assert [s.seq for s in await journal.read_after(seqs[0], 2)] == seqs[1:3]
            assert await journal.read_after(seqs[-1], 100) == []

    asyncio.run(scenario())


def test_read_seqs_returns_the_stored_ones_ascending_once(backend: Backend) -> None:
    async def scenario() -> None:
        async with backend.opened() as journal:
            seqs = [
                await journal.append(make_entry(T0 + i, resources=db_resource(f"d{i}"))) for i in range(4)
            ]
            found = await journal.read_seqs([seqs[3], seqs[1], seqs[3], 10_000])
            assert [s.seq for s in found] == [seqs[1], seqs[3]]
            assert found[0].entry.resources == db_resource("d1")
            assert await journal.read_seqs([]) == []

    asyncio.run(scenario())


def test_last_seq_is_the_highest_committed_even_after_pruning_everything(backend: Backend) -> None:
    async def scenario() -> None:
        async with backend.opened() as journal:
            assert await journal.last_seq() == 0
            seqs = await asyncio.gather(*(journal.append(make_entry(T0 + i)) for i in range(30)))
            assert await journal.last_seq() == max(seqs)
            await journal.prune(datetime(2100, 1, 1, tzinfo=UTC))
            assert await journal.last_seq() == max(seqs)
            assert await journal.read_after(0, 10) == []

    asyncio.run(scenario())
