"""Recording votes in Postgres: one transaction per batch, idempotent, tallies kept exact.

`record_votes` is pure SQL on one connection (no Redis, no AMQP), so tests and the benchmark
call it directly. Every writer of a poll first locks that poll's `tallies` row, in poll id order,
so writers of one poll are serialised and replicas never deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

import asyncpg

from contracts import TallyUpdated, Vote

RejectReason = Literal["unknown_poll", "stale_epoch", "invalid_option"]

# Sorted insert order: two transactions creating the same tallies rows wait in the same order.
_INSERT_MISSING_TALLIES = """
INSERT INTO tallies (poll_id, epoch, counts)
SELECT p.id, p.epoch, array_fill(0::bigint, ARRAY[jsonb_array_length(p.options)])
FROM polls p
WHERE p.id = ANY($1::uuid[])
ORDER BY p.id
ON CONFLICT (poll_id) DO NOTHING
"""

_LOCK_TALLIES = """
SELECT poll_id, epoch, counts, total, version
FROM tallies
WHERE poll_id = ANY($1::uuid[])
ORDER BY poll_id
FOR UPDATE
"""

# Read after the lock: this statement sees every poll change committed before we got it.
_READ_POLLS = """
SELECT id, epoch, jsonb_array_length(options) AS option_count, status
FROM polls
WHERE id = ANY($1::uuid[])
"""

_DELETE_OLD_EPOCH_VOTES = """
DELETE FROM votes v
USING unnest($1::uuid[], $2::integer[]) AS r(poll_id, epoch)
WHERE v.poll_id = r.poll_id AND v.epoch < r.epoch
"""

_INSERT_BALLOTS = """
INSERT INTO ballots (vote_id, poll_id, participant_id, option, seq, epoch, cast_at)
SELECT * FROM unnest(
    $1::uuid[], $2::uuid[], $3::uuid[], $4::smallint[], $5::bigint[], $6::integer[],
    $7::timestamptz[]
)
ON CONFLICT (vote_id) DO NOTHING
RETURNING vote_id
"""

# `previous` reads the statement's snapshot, i.e. the rows before the upsert; safe because the
# tallies lock keeps every other writer of these polls out until we commit.
_UPSERT_VOTES = """
WITH incoming AS (
    SELECT * FROM unnest(
        $1::uuid[], $2::uuid[], $3::smallint[], $4::bigint[], $5::uuid[], $6::integer[],
        $7::timestamptz[]
    ) AS t(poll_id, participant_id, option, seq, vote_id, epoch, cast_at)
),
previous AS (
    SELECT v.poll_id, v.participant_id, v.option
    FROM votes v
    JOIN incoming i ON i.poll_id = v.poll_id AND i.participant_id = v.participant_id
),
upserted AS (
    INSERT INTO votes (poll_id, participant_id, option, seq, vote_id, epoch, cast_at)
    SELECT poll_id, participant_id, option, seq, vote_id, epoch, cast_at FROM incoming
    ON CONFLICT (poll_id, participant_id) DO UPDATE
        SET option = excluded.option,
            seq = excluded.seq,
            vote_id = excluded.vote_id,
            epoch = excluded.epoch,
            cast_at = excluded.cast_at,
            recorded_at = now()
        WHERE excluded.seq > votes.seq
    RETURNING poll_id, participant_id, option
)
SELECT u.poll_id, u.option AS new_option, p.option AS old_option
FROM upserted u
LEFT JOIN previous p ON p.poll_id = u.poll_id AND p.participant_id = u.participant_id
"""

_UPDATE_TALLY = """
UPDATE tallies
SET epoch = $2, counts = $3, total = $4, version = $5, updated_at = now()
WHERE poll_id = $1
"""


@dataclass(frozen=True)
class TallySnapshot:
    """A poll's absolute tally as committed in Postgres."""

    poll_id: UUID
    epoch: int
    counts: tuple[int, ...]
    total: int
    version: int

    def message(self) -> TallyUpdated:
        return TallyUpdated(
            poll_id=self.poll_id,
            epoch=self.epoch,
            counts=list(self.counts),
            total=self.total,
            version=self.version,
        )

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> TallySnapshot:
        return cls(
            poll_id=row["poll_id"],
            epoch=row["epoch"],
            counts=tuple(row["counts"]),
            total=row["total"],
            version=row["version"],
        )


@dataclass(frozen=True)
class RejectedVote:
    vote: Vote
    reason: RejectReason


@dataclass
class RecordResult:
    """What one `record_votes` call did."""

    changed: list[TallySnapshot] = field(default_factory=list)
    """Tallies whose counts changed or were reset, at their new version."""
    valid: list[Vote] = field(default_factory=list)
    """Every valid vote (one per vote_id, the highest seq), stored now or before."""
    new_vote_ids: set[UUID] = field(default_factory=set)
    """Valid votes stored for the first time by this call."""
    rejected: list[RejectedVote] = field(default_factory=list)
    duplicates: int = 0
    """Votes whose vote_id was already stored or appeared earlier in the same batch."""


@dataclass(frozen=True)
class _Poll:
    epoch: int
    option_count: int
    status: str


@dataclass
class _Tally:
    poll_id: UUID
    epoch: int
    counts: list[int]
    total: int
    version: int
    changed: bool = False

    def snapshot(self) -> TallySnapshot:
        return TallySnapshot(self.poll_id, self.epoch, tuple(self.counts), self.total, self.version)


def _dedupe(votes: Iterable[Vote]) -> list[Vote]:
    """One vote per vote_id: the one with the highest seq (a resend is accepted later)."""
    best: dict[UUID, Vote] = {}
    for vote in votes:
        current = best.get(vote.vote_id)
        if current is None or vote.seq > current.seq:
            best[vote.vote_id] = vote
    return list(best.values())


async def _lock(
    conn: asyncpg.Connection, poll_ids: list[UUID]
) -> tuple[dict[UUID, _Poll], dict[UUID, _Tally]]:
    """Create missing tallies rows, lock them in order, then read the polls."""
    await conn.execute(_INSERT_MISSING_TALLIES, poll_ids)
    tallies = {
        row["poll_id"]: _Tally(
            poll_id=row["poll_id"],
            epoch=row["epoch"],
            counts=list(row["counts"]),
            total=row["total"],
            version=row["version"],
        )
        for row in await conn.fetch(_LOCK_TALLIES, poll_ids)
    }
    polls = {
        row["id"]: _Poll(row["epoch"], row["option_count"], row["status"])
        for row in await conn.fetch(_READ_POLLS, poll_ids)
    }
    for poll_id, poll in polls.items():
        tally = tallies.get(poll_id)
        if tally is not None and len(tally.counts) < poll.option_count:
            tally.counts.extend([0] * (poll.option_count - len(tally.counts)))
    return polls, tallies


async def _reset_stale_epochs(
    conn: asyncpg.Connection, polls: dict[UUID, _Poll], tallies: dict[UUID, _Tally]
) -> None:
    """A tally behind its poll's epoch: the poll was reset, so its old votes no longer count."""
    stale = [t for t in tallies.values() if t.poll_id in polls and t.epoch < polls[t.poll_id].epoch]
    if not stale:
        return
    await conn.execute(
        _DELETE_OLD_EPOCH_VOTES,
        [t.poll_id for t in stale],
        [polls[t.poll_id].epoch for t in stale],
    )
    for tally in stale:
        tally.epoch = polls[tally.poll_id].epoch
        tally.counts = [0] * polls[tally.poll_id].option_count
        tally.total = 0
        tally.changed = True


def _classify(votes: list[Vote], polls: dict[UUID, _Poll]) -> tuple[list[Vote], list[RejectedVote]]:
    valid: list[Vote] = []
    rejected: list[RejectedVote] = []
    for vote in votes:
        poll = polls.get(vote.poll_id)
        # No status check: a vote the gateway accepted while open counts, however late.
        if poll is None:
            rejected.append(RejectedVote(vote, "unknown_poll"))
        elif vote.epoch != poll.epoch:
            rejected.append(RejectedVote(vote, "stale_epoch"))
        elif vote.option >= poll.option_count:
            rejected.append(RejectedVote(vote, "invalid_option"))
        else:
            valid.append(vote)
    return valid, rejected


def _columns(votes: Sequence[Vote], *names: str) -> list[list[Any]]:
    return [[getattr(vote, name) for vote in votes] for name in names]


async def _insert_ballots(conn: asyncpg.Connection, votes: list[Vote]) -> set[UUID]:
    if not votes:
        return set()
    rows = await conn.fetch(
        _INSERT_BALLOTS,
        *_columns(
            votes, "vote_id", "poll_id", "participant_id", "option", "seq", "epoch", "cast_at"
        ),
    )
    return {row["vote_id"] for row in rows}


def _latest_per_participant(votes: Iterable[Vote]) -> list[Vote]:
    latest: dict[tuple[UUID, UUID], Vote] = {}
    for vote in votes:
        key = (vote.poll_id, vote.participant_id)
        current = latest.get(key)
        if current is None or vote.seq > current.seq:
            latest[key] = vote
    return list(latest.values())


async def _upsert_votes(
    conn: asyncpg.Connection, votes: list[Vote], tallies: dict[UUID, _Tally]
) -> None:
    """Upsert each participant's latest vote and apply the old/new option deltas to tallies."""
    if not votes:
        return
    rows = await conn.fetch(
        _UPSERT_VOTES,
        *_columns(
            votes, "poll_id", "participant_id", "option", "seq", "vote_id", "epoch", "cast_at"
        ),
    )
    for row in rows:
        tally = tallies[row["poll_id"]]
        old, new = row["old_option"], row["new_option"]
        if old is None:
            tally.total += 1
        elif old == new:
            continue
        else:
            tally.counts[old] -= 1
        tally.counts[new] += 1
        tally.changed = True


async def _save_changed(
    conn: asyncpg.Connection, tallies: dict[UUID, _Tally]
) -> list[TallySnapshot]:
    changed = [t for t in tallies.values() if t.changed]
    for tally in changed:
        tally.version += 1
    if changed:
        await conn.executemany(
            _UPDATE_TALLY,
            [(t.poll_id, t.epoch, t.counts, t.total, t.version) for t in changed],
        )
    return [t.snapshot() for t in changed]


async def record_votes(conn: asyncpg.Connection, votes: Sequence[Vote]) -> RecordResult:
    """Record a batch of votes in one transaction; safe to call again with the same votes.

    Invalid votes are returned as rejected and stored nowhere. Valid votes go into `ballots`
    once per vote_id; per participant the highest `seq` wins in `votes` (a resent vote_id
    with a newer seq included); tallies change by the
    resulting deltas and their `version` goes up by one per changed poll.
    """
    unique = _dedupe(votes)
    result = RecordResult(duplicates=len(votes) - len(unique))
    if not unique:
        return result
    poll_ids = sorted({vote.poll_id for vote in unique})
    async with conn.transaction():
        polls, tallies = await _lock(conn, poll_ids)
        await _reset_stale_epochs(conn, polls, tallies)
        result.valid, result.rejected = _classify(unique, polls)
        result.new_vote_ids = await _insert_ballots(conn, result.valid)
        result.duplicates += len(result.valid) - len(result.new_vote_ids)
        # Duplicates too: a client that resends a vote whose answer it never got (same
        # vote_id) is accepted again with a newer seq, and it is then their latest vote. A plain
        # redelivery carries the same seq and changes nothing (`excluded.seq > votes.seq`).
        await _upsert_votes(conn, _latest_per_participant(result.valid), tallies)
        result.changed = await _save_changed(conn, tallies)
    return result


async def sync_tally(conn: asyncpg.Connection, poll_id: UUID) -> tuple[TallySnapshot | None, bool]:
    """Make sure a poll's tally exists and matches its epoch (resetting it if the poll was reset).

    Returns the tally (None if the poll does not exist) and whether this call changed it.
    """
    async with conn.transaction():
        polls, tallies = await _lock(conn, [poll_id])
        if poll_id not in polls or poll_id not in tallies:
            return None, False
        await _reset_stale_epochs(conn, polls, tallies)
        changed = await _save_changed(conn, tallies)
        return tallies[poll_id].snapshot(), bool(changed)
