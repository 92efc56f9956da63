"""The `tallies` rows, one per (poll, question): locked, turned into the kind's aggregate
(`contracts.aggregates`), changed, and saved with `version + 1` when the aggregate changed.

The stored form is the aggregate's integer counters (`encode_counters`), the tally screens get
(`aggregate`), and `counts` and `total` for a first-version reader. Every writer of a question
first locks its tally row, in (poll_id, qid) order, so writers of one question are serialised
and replicas never deadlock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from contracts import TallyUpdated
from contracts.aggregates import (
    AnyAggregate,
    aggregate_for,
    decode_counters,
    encode_counters,
    recompute,
)
from contracts.answers import ANSWER_ADAPTER, Answer
from vote_worker.questions import Key, StoredQuestion, read_questions, unzip
from vote_worker.words import public_tally, withheld_words

log = logging.getLogger(__name__)

# Sorted insert order: two transactions creating the same tallies rows wait in the same order.
_INSERT_MISSING = """
INSERT INTO tallies (poll_id, qid, kind, epoch, counts)
SELECT q.poll_id, q.qid, q.kind, q.epoch, '{}'::bigint[]
FROM questions q
JOIN unnest($1::uuid[], $2::smallint[]) AS k(poll_id, qid)
  ON q.poll_id = k.poll_id AND q.qid = k.qid
ORDER BY q.poll_id, q.qid
ON CONFLICT (poll_id, qid) DO NOTHING
"""

_LOCK = """
SELECT t.poll_id, t.qid, t.kind, t.epoch, t.version,
       t.counters::text AS counters, t.aggregate::text AS aggregate,
       t.withheld::text AS withheld
FROM tallies t
JOIN unnest($1::uuid[], $2::smallint[]) AS k(poll_id, qid)
  ON t.poll_id = k.poll_id AND t.qid = k.qid
ORDER BY t.poll_id, t.qid
FOR UPDATE OF t
"""

_DELETE_OTHER_EPOCHS = """
DELETE FROM votes v
USING unnest($1::uuid[], $2::smallint[], $3::integer[]) AS r(poll_id, qid, epoch)
WHERE v.poll_id = r.poll_id AND v.qid = r.qid AND v.epoch <> r.epoch
"""

_COUNTED_ANSWERS = """
SELECT answer::text AS answer FROM votes WHERE poll_id = $1 AND qid = $2 AND epoch = $3
"""

_UPDATE = """
UPDATE tallies
SET kind = $3, epoch = $4, counts = $5, total = $6, version = $7,
    counters = $8::jsonb, aggregate = $9::jsonb, withheld = $10::jsonb, updated_at = now()
WHERE poll_id = $1 AND qid = $2
"""


@dataclass(frozen=True)
class TallySnapshot:
    """One question's absolute tally as committed in Postgres."""

    poll_id: UUID
    qid: int
    kind: str
    epoch: int
    counts: tuple[int, ...]
    total: int
    version: int
    aggregate: dict[str, Any] = field(hash=False)

    def message(self) -> TallyUpdated:
        return TallyUpdated(
            poll_id=self.poll_id,
            qid=self.qid,
            kind=self.kind,
            epoch=self.epoch,
            counts=list(self.counts),
            total=self.total,
            version=self.version,
            aggregate=self.aggregate,
        )

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> TallySnapshot:
        """From a row with poll_id, qid, kind, epoch, counts, total, version, aggregate (text)."""
        return cls(
            poll_id=row["poll_id"],
            qid=row["qid"],
            kind=row["kind"],
            epoch=row["epoch"],
            counts=tuple(row["counts"]),
            total=row["total"],
            version=row["version"],
            aggregate=orjson.loads(row["aggregate"]),
        )


@dataclass
class LiveTally:
    """A locked tally row and its question, with the aggregate being changed."""

    poll_id: UUID
    qid: int
    question: StoredQuestion
    aggregate: AnyAggregate
    version: int
    stored_kind: str
    stored_epoch: int
    stored_counters: dict[str, int]
    stored_aggregate: dict[str, Any]
    stored_withheld: list[Any] = field(default_factory=list)
    stale: bool = False
    """Its stored counters do not fit the answers being replaced: recount before saving."""

    @property
    def key(self) -> Key:
        return (self.poll_id, self.qid)

    @property
    def epoch(self) -> int:
        return self.question.epoch

    def replace(self, old: Answer | None, new: Answer) -> None:
        """A participant's counted answer goes from `old` to `new`."""
        try:
            self.aggregate.replace(old, new)
        except ValueError:
            # `old` is not in the counters (drift): the saved tally is recounted from votes.
            self.stale = True

    def snapshot(self) -> TallySnapshot:
        tally = public_tally(self.aggregate, self.question.moderation)
        return TallySnapshot(
            poll_id=self.poll_id,
            qid=self.qid,
            kind=self.question.kind,
            epoch=self.epoch,
            counts=tuple(tally.get("counts", ())),
            total=self.aggregate.total,
            version=self.version,
            aggregate=tally,
        )


async def counted_answers(
    conn: asyncpg.Connection, key: Key, question: StoredQuestion
) -> list[Answer]:
    """The stored answers of the question's current epoch that fit it (what must be counted)."""
    found: list[Answer] = []
    empty = aggregate_for(question.spec)
    for row in await conn.fetch(_COUNTED_ANSWERS, key[0], key[1], question.epoch):
        try:
            answer = ANSWER_ADAPTER.validate_json(row["answer"])
            empty.contribution(answer)  # raises ValueError when it does not fit the question
        except ValueError:
            log.error("a stored answer to %s/%s does not fit its question", key[0], key[1])
            continue
        found.append(answer)
    return found


async def recount(conn: asyncpg.Connection, key: Key, question: StoredQuestion) -> AnyAggregate:
    """The aggregate recomputed from the stored answers of the current epoch."""
    return recompute(question.spec, await counted_answers(conn, key, question))


def _from_counters(question: StoredQuestion, stored: object) -> AnyAggregate | None:
    """The aggregate of stored counters; None when they are not this kind's counters."""
    if not isinstance(stored, dict):
        return None
    aggregate = aggregate_for(question.spec)
    try:
        return type(aggregate).from_counters(question.spec, decode_counters(stored))  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return None


async def lock_tallies(
    conn: asyncpg.Connection, keys: Iterable[Key], *, recount_all: bool = False
) -> dict[Key, LiveTally]:
    """Create missing rows, lock them in order, read their questions, build each aggregate.

    A tally of an earlier epoch (the question was reset) starts empty and the votes of other
    epochs are deleted. Stored counters that do not fit the question (or, with `recount_all`,
    any) are replaced by a recount of the stored answers.
    """
    poll_ids, qids = unzip(sorted(set(keys)))
    await conn.execute(_INSERT_MISSING, poll_ids, qids)
    rows = await conn.fetch(_LOCK, poll_ids, qids)
    # Read after the lock: this sees every question change committed before we got it.
    questions = await read_questions(conn, zip(poll_ids, qids, strict=True))
    live: dict[Key, LiveTally] = {}
    reset: list[LiveTally] = []
    for row in rows:
        key = (row["poll_id"], row["qid"])
        question = questions.get(key)
        if question is None:
            continue
        counters = orjson.loads(row["counters"])
        aggregate = None
        if row["epoch"] != question.epoch:
            aggregate = aggregate_for(question.spec)
        elif not recount_all:
            aggregate = _from_counters(question, counters)
        if aggregate is None:
            aggregate = await recount(conn, key, question)
        tally = LiveTally(
            poll_id=key[0],
            qid=key[1],
            question=question,
            aggregate=aggregate,
            version=row["version"],
            stored_kind=row["kind"],
            stored_epoch=row["epoch"],
            stored_counters=counters,
            stored_aggregate=orjson.loads(row["aggregate"]),
            stored_withheld=orjson.loads(row["withheld"]),
        )
        live[key] = tally
        if row["epoch"] != question.epoch:
            reset.append(tally)
    if reset:
        await conn.execute(
            _DELETE_OTHER_EPOCHS,
            [t.poll_id for t in reset],
            [t.qid for t in reset],
            [t.epoch for t in reset],
        )
    return live


def _changed(
    tally: LiveTally, counters: dict[str, int], aggregate: dict[str, Any], withheld: list[Any]
) -> bool:
    return (
        tally.stored_epoch != tally.epoch
        or tally.stored_kind != tally.question.kind
        or tally.stored_counters != counters
        or tally.stored_aggregate != aggregate
        or tally.stored_withheld != withheld
    )


async def save_tallies(
    conn: asyncpg.Connection, tallies: Iterable[LiveTally]
) -> list[TallySnapshot]:
    """Write each tally whose aggregate changed, at `version + 1`; the snapshots written."""
    rows = []
    written: list[TallySnapshot] = []
    for tally in tallies:
        if tally.stale:
            tally.aggregate = await recount(conn, tally.key, tally.question)
            tally.stale = False
        counters = encode_counters(tally.aggregate.counters())
        snapshot = tally.snapshot()
        withheld = withheld_words(tally.aggregate, tally.question.moderation)
        if not _changed(tally, counters, snapshot.aggregate, list(withheld)):
            continue
        tally.version += 1
        snapshot = tally.snapshot()
        rows.append(
            (
                tally.poll_id,
                tally.qid,
                snapshot.kind,
                snapshot.epoch,
                list(snapshot.counts),
                snapshot.total,
                snapshot.version,
                orjson.dumps(counters).decode(),
                orjson.dumps(snapshot.aggregate).decode(),
                orjson.dumps(withheld).decode(),
            )
        )
        written.append(snapshot)
    if rows:
        await conn.executemany(_UPDATE, rows)
    return written
