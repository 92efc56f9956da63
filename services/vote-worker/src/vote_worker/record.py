"""Recording answers in Postgres: one transaction per batch, idempotent, aggregates kept exact.

`record_votes` is pure SQL on one connection (no Redis, no AMQP), so tests and the benchmark
call it directly. Votes are answers to one question each, keyed by (poll_id, qid): each is
checked against its question (kind, settings, epoch) from poll-api's `questions` table, stored
once per vote_id in `ballots`, and the latest (a quiz: the first) per participant and question
is the counted one in `votes`, its question's tally changed in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

import asyncpg

from contracts import Vote
from contracts.answers import ANSWER_ADAPTER, Answer, InvalidAnswer, SingleAnswer, validate_answer
from vote_worker.questions import Key, existing_polls, qids_of
from vote_worker.tallies import LiveTally, TallySnapshot, lock_tallies, save_tallies

__all__ = ["RecordResult", "RejectedVote", "TallySnapshot", "record_votes", "sync_tallies"]

RejectReason = Literal["unknown_poll", "unknown_question", "stale_epoch", "invalid_answer"]

_INSERT_BALLOTS = """
INSERT INTO ballots (vote_id, poll_id, qid, participant_id, option, answer, seq, epoch, cast_at)
SELECT vote_id, poll_id, qid, participant_id, option, answer::jsonb, seq, epoch, cast_at
FROM unnest(
    $1::uuid[], $2::uuid[], $3::smallint[], $4::uuid[], $5::smallint[], $6::text[],
    $7::bigint[], $8::integer[], $9::timestamptz[]
) AS t(vote_id, poll_id, qid, participant_id, option, answer, seq, epoch, cast_at)
ON CONFLICT (vote_id) DO NOTHING
RETURNING vote_id
"""

# `previous` reads the statement's snapshot, i.e. the rows before the upsert; safe because the
# tally locks keep every other writer of these questions out until we commit. The latest seq
# wins, except in a quiz, whose first answer locks; an answer of a newer epoch always wins.
_UPSERT_VOTES = """
WITH incoming AS (
    SELECT * FROM unnest(
        $1::uuid[], $2::smallint[], $3::uuid[], $4::smallint[], $5::text[], $6::bigint[],
        $7::uuid[], $8::integer[], $9::timestamptz[]
    ) AS t(poll_id, qid, participant_id, option, answer, seq, vote_id, epoch, cast_at)
),
previous AS (
    SELECT v.poll_id, v.qid, v.participant_id, v.answer, v.epoch
    FROM votes v
    JOIN incoming i
      ON i.poll_id = v.poll_id AND i.qid = v.qid AND i.participant_id = v.participant_id
),
upserted AS (
    INSERT INTO votes (poll_id, qid, participant_id, option, answer, seq, vote_id, epoch, cast_at)
    SELECT poll_id, qid, participant_id, option, answer::jsonb, seq, vote_id, epoch, cast_at
    FROM incoming
    ON CONFLICT (poll_id, qid, participant_id) DO UPDATE
        SET option = excluded.option,
            answer = excluded.answer,
            seq = excluded.seq,
            vote_id = excluded.vote_id,
            epoch = excluded.epoch,
            cast_at = excluded.cast_at,
            recorded_at = now()
        WHERE excluded.epoch > votes.epoch
           OR (excluded.epoch = votes.epoch AND CASE WHEN votes.answer->>'kind' = 'quiz'
                                                    THEN excluded.seq < votes.seq
                                                    ELSE excluded.seq > votes.seq END)
    RETURNING poll_id, qid, participant_id
)
SELECT u.poll_id, u.qid, u.participant_id, p.answer::text AS old_answer, p.epoch AS old_epoch
FROM upserted u
LEFT JOIN previous p
  ON p.poll_id = u.poll_id AND p.qid = u.qid AND p.participant_id = u.participant_id
"""


_DELETE_ORPHAN_TALLY = """
DELETE FROM tallies t
WHERE t.poll_id = $1 AND t.qid = $2
  AND NOT EXISTS (SELECT 1 FROM questions q WHERE q.poll_id = t.poll_id AND q.qid = t.qid)
"""


@dataclass(frozen=True)
class RejectedVote:
    vote: Vote
    reason: RejectReason
    rule: str | None = None
    """For `invalid_answer`: the rule the answer broke (contracts.answers' message)."""


@dataclass
class RecordResult:
    """What one `record_votes` call did."""

    changed: list[TallySnapshot] = field(default_factory=list)
    """Tallies whose aggregate changed or was reset, at their new version."""
    valid: list[Vote] = field(default_factory=list)
    """Every valid vote (one per vote_id, the highest seq, its answer normalised), stored now or
    before."""
    new_vote_ids: set[UUID] = field(default_factory=set)
    """Valid votes stored for the first time by this call."""
    rejected: list[RejectedVote] = field(default_factory=list)
    duplicates: int = 0
    """Votes whose vote_id was already stored or appeared earlier in the same batch."""


def _dedupe(votes: Iterable[Vote]) -> list[Vote]:
    """One vote per vote_id: the one with the highest seq (a resend is accepted later)."""
    best: dict[UUID, Vote] = {}
    for vote in votes:
        current = best.get(vote.vote_id)
        if current is None or vote.seq > current.seq:
            best[vote.vote_id] = vote
    return list(best.values())


def _key(vote: Vote) -> Key:
    return (vote.poll_id, vote.qid)


def _normalised(vote: Vote, answer: Answer) -> Vote:
    option = answer.option if isinstance(answer, SingleAnswer) else None
    if answer == vote.answer and option == vote.option:
        return vote
    return vote.model_copy(update={"answer": answer, "option": option})


async def _classify(
    conn: asyncpg.Connection, votes: list[Vote], tallies: dict[Key, LiveTally]
) -> tuple[list[Vote], list[RejectedVote]]:
    """Each vote checked against its question: valid (normalised) or rejected with why."""
    valid: list[Vote] = []
    rejected: list[RejectedVote] = []
    unknown = [vote for vote in votes if _key(vote) not in tallies]
    polls = await existing_polls(conn, (v.poll_id for v in unknown)) if unknown else set()
    for vote in votes:
        tally = tallies.get(_key(vote))
        # No status check: an answer the gateway accepted while open counts, however late.
        if tally is None:
            reason: RejectReason = "unknown_question" if vote.poll_id in polls else "unknown_poll"
            rejected.append(RejectedVote(vote, reason))
            continue
        if vote.epoch != tally.epoch:
            rejected.append(RejectedVote(vote, "stale_epoch"))
            continue
        try:
            answer = validate_answer(tally.question.spec, vote.answer)
        except InvalidAnswer as exc:
            rejected.append(RejectedVote(vote, "invalid_answer", exc.rule))
            continue
        valid.append(_normalised(vote, answer))
    return valid, rejected


def _columns(votes: Sequence[Vote], *names: str) -> list[list[Any]]:
    def value(vote: Vote, name: str) -> Any:
        return vote.answer.model_dump_json() if name == "answer" else getattr(vote, name)

    return [[value(vote, name) for vote in votes] for name in names]


async def _insert_ballots(conn: asyncpg.Connection, votes: list[Vote]) -> set[UUID]:
    if not votes:
        return set()
    names = ("vote_id", "poll_id", "qid", "participant_id", "option", "answer", "seq", "epoch")
    rows = await conn.fetch(_INSERT_BALLOTS, *_columns(votes, *names, "cast_at"))
    return {row["vote_id"] for row in rows}


def _counted_per_participant(votes: Iterable[Vote]) -> list[Vote]:
    """Per participant and question, the vote that wins: the latest seq, a quiz's first."""
    counted: dict[tuple[UUID, int, UUID], Vote] = {}
    for vote in votes:
        key = (vote.poll_id, vote.qid, vote.participant_id)
        current = counted.get(key)
        first_wins = vote.answer.kind == "quiz"
        if current is None or (vote.seq < current.seq if first_wins else vote.seq > current.seq):
            counted[key] = vote
    return list(counted.values())


async def _upsert_votes(
    conn: asyncpg.Connection, votes: list[Vote], tallies: dict[Key, LiveTally]
) -> None:
    """Upsert each participant's counted vote and move the aggregates from old to new answer."""
    if not votes:
        return
    names = ("poll_id", "qid", "participant_id", "option", "answer", "seq", "vote_id", "epoch")
    rows = await conn.fetch(_UPSERT_VOTES, *_columns(votes, *names, "cast_at"))
    by_participant = {(v.poll_id, v.qid, v.participant_id): v for v in votes}
    for row in rows:
        key = (row["poll_id"], row["qid"])
        tally = tallies[key]
        new = by_participant[(*key, row["participant_id"])].answer
        old = None
        if row["old_answer"] is not None and row["old_epoch"] == tally.epoch:
            try:
                old = ANSWER_ADAPTER.validate_json(row["old_answer"])
            except ValueError:
                tally.stale = True
        tally.replace(old, new)


async def record_votes(conn: asyncpg.Connection, votes: Sequence[Vote]) -> RecordResult:
    """Record a batch of votes in one transaction; safe to call again with the same votes.

    Invalid votes are returned as rejected and stored nowhere. Valid votes go into `ballots`
    once per vote_id; per participant and question the highest `seq` (a quiz: the lowest) wins
    in `votes` (a resent vote_id with a newer seq included); each question's aggregate changes
    by the resulting deltas and its `version` goes up by one when it changed.
    """
    unique = _dedupe(votes)
    result = RecordResult(duplicates=len(votes) - len(unique))
    if not unique:
        return result
    async with conn.transaction():
        tallies = await lock_tallies(conn, (_key(vote) for vote in unique))
        result.valid, result.rejected = await _classify(conn, unique, tallies)
        result.new_vote_ids = await _insert_ballots(conn, result.valid)
        result.duplicates += len(result.valid) - len(result.new_vote_ids)
        # Duplicates too: a client that resends a vote whose answer it never got (same
        # vote_id) is accepted again with a newer seq, and it is then their latest vote. A plain
        # redelivery carries the same seq and changes nothing (`excluded.seq > votes.seq`).
        await _upsert_votes(conn, _counted_per_participant(result.valid), tallies)
        result.changed = await save_tallies(conn, tallies.values())
    return result


async def sync_tallies(
    conn: asyncpg.Connection, poll_id: UUID, qid: int | None = None, *, recount: bool = False
) -> tuple[list[TallySnapshot], list[TallySnapshot]]:
    """Make sure a question's tally (every question's with `qid` None) exists and matches its
    epoch (emptied if the question was reset), and with `recount`, its stored answers.

    Returns every tally (none for an unknown poll or question) and those this call changed. The
    tally row of a question that no longer exists is deleted.
    """
    async with conn.transaction():
        qids = await qids_of(conn, poll_id) if qid is None else [qid]
        if not qids:
            return [], []
        tallies = await lock_tallies(conn, ((poll_id, q) for q in qids), recount_all=recount)
        if qid is not None and not tallies:
            # A deleted question (only a draft can be): its tally row, if any, goes too.
            await conn.execute(_DELETE_ORPHAN_TALLY, poll_id, qid)
        changed = await save_tallies(conn, tallies.values())
        return [t.snapshot() for t in tallies.values()], changed
