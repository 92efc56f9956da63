"""record_votes and sync_tally against the real Postgres: the invariants of the vote path."""

from __future__ import annotations

import asyncio
import random
import uuid

import asyncpg

from tests.support.isolation import Resources
from tests.vote_worker.factories import (
    create_poll,
    group_by,
    set_poll,
    stored_options,
    tally,
    vote,
)
from vote_worker.record import record_votes, sync_tallies


async def assert_tally_matches_votes(db: asyncpg.Connection, poll_id: uuid.UUID, options: int):
    row = await tally(db, poll_id)
    assert row is not None
    expected = await group_by(db, poll_id, options)
    assert list(row["counts"]) == expected
    assert row["total"] == sum(expected)
    return row


async def test_latest_seq_wins_across_batches(db: asyncpg.Connection) -> None:
    poll = await create_poll(db)
    alice = uuid.uuid4()
    await record_votes(db, [vote(poll, alice, 0, seq=1)])
    await record_votes(db, [vote(poll, alice, 2, seq=2)])
    assert await stored_options(db, poll) == {alice: 2}
    row = await assert_tally_matches_votes(db, poll, 3)
    assert list(row["counts"]) == [0, 0, 1]


async def test_latest_seq_wins_inside_one_batch(db: asyncpg.Connection) -> None:
    poll = await create_poll(db)
    alice, bob = uuid.uuid4(), uuid.uuid4()
    result = await record_votes(
        db,
        [
            vote(poll, alice, 2, seq=30),
            vote(poll, alice, 1, seq=10),
            vote(poll, bob, 0, seq=5),
            vote(poll, alice, 0, seq=20),
        ],
    )
    assert await stored_options(db, poll) == {alice: 2, bob: 0}
    assert len(result.new_vote_ids) == 4  # every cast is history in ballots
    assert await db.fetchval("SELECT count(*) FROM ballots WHERE poll_id = $1", poll) == 4
    row = await assert_tally_matches_votes(db, poll, 3)
    assert list(row["counts"]) == [1, 0, 1]
    assert row["version"] == 1


async def test_older_seq_after_newer_changes_nothing(db: asyncpg.Connection) -> None:
    poll = await create_poll(db)
    alice = uuid.uuid4()
    await record_votes(db, [vote(poll, alice, 1, seq=100)])
    before = await tally(db, poll)
    result = await record_votes(db, [vote(poll, alice, 0, seq=99)])
    assert result.changed == []
    assert await stored_options(db, poll) == {alice: 1}
    assert await tally(db, poll) == before


async def test_redelivered_and_duplicate_votes_count_once(db: asyncpg.Connection) -> None:
    poll = await create_poll(db)
    alice, bob = uuid.uuid4(), uuid.uuid4()
    first = vote(poll, alice, 1, seq=1)
    second = vote(poll, bob, 2, seq=1)
    result = await record_votes(db, [first, first, second])
    assert result.duplicates == 1
    assert len(result.valid) == 2
    version = (await tally(db, poll))["version"]

    redelivered = await record_votes(db, [second, first])
    assert redelivered.new_vote_ids == set()
    assert redelivered.duplicates == 2
    assert {v.vote_id for v in redelivered.valid} == {first.vote_id, second.vote_id}
    assert redelivered.changed == []
    row = await assert_tally_matches_votes(db, poll, 3)
    assert list(row["counts"]) == [0, 1, 1]
    assert row["version"] == version


async def test_random_batches_equal_group_by(db: asyncpg.Connection) -> None:
    """Many random batches with re-votes, out-of-order seqs and redeliveries."""
    rng = random.Random(20240611)
    options = 5
    polls = [await create_poll(db, options=options) for _ in range(3)]
    participants = [uuid.uuid4() for _ in range(40)]
    cast: list = []
    latest: dict[tuple[uuid.UUID, uuid.UUID], tuple[int, int]] = {}
    for _ in range(60):
        batch = []
        for _ in range(rng.randint(1, 30)):
            if cast and rng.random() < 0.2:
                batch.append(rng.choice(cast))  # a redelivery
                continue
            poll, who = rng.choice(polls), rng.choice(participants)
            v = vote(poll, who, rng.randrange(options), seq=rng.randint(1, 10_000))
            cast.append(v)
            batch.append(v)
            key = (poll, who)
            if key not in latest or v.seq > latest[key][0]:
                latest[key] = (v.seq, v.option)
        await record_votes(db, batch)
    for poll in polls:
        await assert_tally_matches_votes(db, poll, options)
        expected = {who: option for (p, who), (_, option) in latest.items() if p == poll}
        assert await stored_options(db, poll) == expected


async def test_invalid_votes_are_rejected_and_not_stored(db: asyncpg.Connection) -> None:
    poll = await create_poll(db, options=2, epoch=3)
    good = vote(poll, uuid.uuid4(), 1, seq=1, epoch=3)
    bad_option = vote(poll, uuid.uuid4(), 2, seq=1, epoch=3)
    stale = vote(poll, uuid.uuid4(), 0, seq=1, epoch=2)
    unknown = vote(uuid.uuid4(), uuid.uuid4(), 0, seq=1)
    result = await record_votes(db, [bad_option, stale, unknown, good])
    reasons = {r.vote.vote_id: r.reason for r in result.rejected}
    assert reasons == {
        bad_option.vote_id: "invalid_answer",
        stale.vote_id: "stale_epoch",
        unknown.vote_id: "unknown_poll",
    }
    assert [v.vote_id for v in result.valid] == [good.vote_id]
    stored = await db.fetch(
        "SELECT vote_id FROM ballots WHERE vote_id = ANY($1::uuid[])",
        [bad_option.vote_id, stale.vote_id, unknown.vote_id, good.vote_id],
    )
    assert [r["vote_id"] for r in stored] == [good.vote_id]
    assert await tally(db, unknown.poll_id) is None
    row = await assert_tally_matches_votes(db, poll, 2)
    assert list(row["counts"]) == [0, 1]


async def test_vote_accepted_while_open_counts_after_close(db: asyncpg.Connection) -> None:
    poll = await create_poll(db)
    await set_poll(db, poll, status="closed")
    result = await record_votes(db, [vote(poll, uuid.uuid4(), 1, seq=1)])
    assert result.rejected == []
    assert list((await tally(db, poll))["counts"]) == [0, 1, 0]


async def test_epoch_reset_clears_old_votes(db: asyncpg.Connection) -> None:
    poll = await create_poll(db)
    alice, bob = uuid.uuid4(), uuid.uuid4()
    await record_votes(db, [vote(poll, alice, 0, seq=1), vote(poll, bob, 1, seq=1)])
    version = (await tally(db, poll))["version"]
    await set_poll(db, poll, epoch=1, status="open")

    result = await record_votes(
        db, [vote(poll, alice, 2, seq=2, epoch=1), vote(poll, bob, 0, seq=2, epoch=0)]
    )
    assert [r.reason for r in result.rejected] == ["stale_epoch"]
    assert await stored_options(db, poll) == {alice: 2}
    row = await assert_tally_matches_votes(db, poll, 3)
    assert row["epoch"] == 1
    assert list(row["counts"]) == [0, 0, 1]
    assert row["version"] == version + 1


async def test_sync_tally_applies_a_reset_once(db: asyncpg.Connection) -> None:
    poll = await create_poll(db)
    await record_votes(db, [vote(poll, uuid.uuid4(), 1, seq=1)])
    version = (await tally(db, poll))["version"]
    await set_poll(db, poll, epoch=1, status="draft")

    (snapshot,), changed = await sync_tallies(db, poll, 0)
    assert changed == [snapshot]
    assert (snapshot.epoch, snapshot.counts, snapshot.total) == (1, (0, 0, 0), 0)
    assert snapshot.aggregate == {"kind": "single", "counts": [0, 0, 0], "total": 0}
    assert snapshot.version == version + 1
    assert await stored_options(db, poll) == {}

    again, changed_again = await sync_tallies(db, poll)
    assert changed_again == []
    assert again == [snapshot]
    assert await sync_tallies(db, uuid.uuid4()) == ([], [])
    assert await sync_tallies(db, poll, 7) == ([], [])


async def test_sync_tally_creates_a_zero_tally(db: asyncpg.Connection) -> None:
    poll = await create_poll(db, options=4, status="draft")
    (snapshot,), _ = await sync_tallies(db, poll, 0)
    # Its first aggregate is written (version 1) so that readers find the zeros stored.
    assert (snapshot.counts, snapshot.total, snapshot.version) == ((0, 0, 0, 0), 0, 1)
    assert (await tally(db, poll))["version"] == 1


async def test_version_bumps_once_per_changing_batch(db: asyncpg.Connection) -> None:
    poll = await create_poll(db)
    alice = uuid.uuid4()
    versions = []
    for seq, option in enumerate([0, 1, 1, 2], start=1):
        await record_votes(db, [vote(poll, alice, option, seq=seq)])
        versions.append((await tally(db, poll))["version"])
    # The third vote repeats the same option: the tally does not change, nor its version.
    assert versions == [1, 2, 2, 3]


async def test_concurrent_writers_keep_tallies_exact(resources: Resources, db) -> None:
    """Two connections record overlapping batches of the same polls at the same time."""
    options = 4
    polls = [await create_poll(db, options=options) for _ in range(2)]
    participants = [uuid.uuid4() for _ in range(30)]
    rng = random.Random(7)

    def random_batch() -> list:
        return [
            vote(rng.choice(polls), rng.choice(participants), rng.randrange(options), seq=s)
            for s in rng.sample(range(1, 1_000_000), 25)
        ]

    batches = [random_batch() for _ in range(40)]
    # Redeliver some batches to the other writer as well.
    batches += [batches[i] for i in range(0, 40, 4)]
    rng.shuffle(batches)

    async def writer(share: list) -> None:
        conn = await asyncpg.connect(resources.database_url)
        try:
            for b in share:
                await record_votes(conn, b)
        finally:
            await conn.close()

    await asyncio.gather(writer(batches[0::2]), writer(batches[1::2]))
    for poll in polls:
        await assert_tally_matches_votes(db, poll, options)
        total_ballots = await db.fetchval(
            "SELECT count(DISTINCT participant_id) FROM ballots WHERE poll_id = $1", poll
        )
        assert (await tally(db, poll))["total"] == total_ballots
