"""Reading and writing `polls` and `questions` (and reading the worker's `tallies`)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Integer, SmallInteger, String, column, table
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID, insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import polls
from contracts.polls import ROOM_CODE_ALPHABET, ROOM_CODE_LENGTH, PollStatus
from contracts.questions import Question as QuestionSpec
from poll_api.errors import PollNotFound
from poll_api.lifecycle import mirror_current
from poll_api.models import Poll, Question
from poll_api.run import PollRun

MAX_ROOM_CODE_ATTEMPTS = 20

# vote-worker owns `tallies`; poll-api only reads these columns of it.
tallies = table(
    "tallies",
    column("poll_id", UUID(as_uuid=True)),
    column("qid", SmallInteger),
    column("kind", String),
    column("epoch", Integer),
    column("counts", ARRAY(BigInteger)),
    column("total", BigInteger),
    column("version", BigInteger),
    column("counters", JSONB),
    column("aggregate", JSONB),
    column("withheld", JSONB),
)


def new_room_code() -> str:
    """A random room code from `secrets` (codes are public; a collision is retried)."""
    return "".join(secrets.choice(ROOM_CODE_ALPHABET) for _ in range(ROOM_CODE_LENGTH))


def normalize_room_code(raw: str) -> str:
    """Room codes are matched case-insensitively; anything not shaped like one is unknown."""
    code = polls.normalize_room_code(raw)
    if code is None:
        raise PollNotFound(raw)
    return code


def new_question(
    poll_id: uuid.UUID, qid: int, position: int, spec: QuestionSpec, now: datetime
) -> Question:
    return Question(
        poll_id=poll_id,
        qid=qid,
        position=position,
        kind=spec.kind,
        spec=spec.model_dump(mode="json"),
        created_at=now,
        updated_at=now,
    )


async def insert_poll(
    session: AsyncSession,
    specs: Sequence[QuestionSpec],
    *,
    title: str | None,
    settings: dict[str, Any],
    host_token_hash: str,
    expires_in_days: int,
    now: datetime,
    owner_id: uuid.UUID | None = None,
) -> PollRun:
    """Insert a poll of draft questions (qids 0..n-1) under a fresh random room code,
    retrying on a code collision."""
    poll_id = uuid.uuid4()
    questions = [new_question(poll_id, i, i, spec, now) for i, spec in enumerate(specs)]
    for _ in range(MAX_ROOM_CODE_ATTEMPTS):
        poll = Poll(
            id=poll_id,
            room_code=new_room_code(),
            question="",
            options=[],
            status=PollStatus.DRAFT.value,
            state_version=1,
            host_token_hash=host_token_hash,
            settings=settings,
            created_at=now,
            updated_at=now,
            expires_at=now + timedelta(days=expires_in_days),
            title=title,
            current_qid=0,
            next_qid=len(questions),
            owner_id=owner_id,
        )
        mirror_current(poll, questions[0])
        values = {name: getattr(poll, name) for name in Poll.model_fields}
        inserted = await session.exec(
            insert(Poll)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["room_code"])
            .returning(col(Poll.id))
        )
        if inserted.first() is not None:
            session.add_all(questions)
            await session.flush()
            return PollRun(poll, questions)
    raise RuntimeError(f"no free room code after {MAX_ROOM_CODE_ATTEMPTS} attempts")


async def get_poll(session: AsyncSession, room_code: str, *, for_update: bool = False) -> Poll:
    query = select(Poll).where(col(Poll.room_code) == room_code)
    if for_update:
        query = query.with_for_update()
    poll = (await session.exec(query)).first()
    if poll is None:
        raise PollNotFound(room_code)
    return poll


async def get_questions(session: AsyncSession, poll_id: uuid.UUID) -> list[Question]:
    query = (
        select(Question).where(col(Question.poll_id) == poll_id).order_by(col(Question.position))
    )
    return list((await session.exec(query)).all())


async def get_run(session: AsyncSession, room_code: str, *, for_update: bool = False) -> PollRun:
    """The poll and its questions; `for_update` locks the poll row (every change does)."""
    poll = await get_poll(session, room_code, for_update=for_update)
    return PollRun(poll, await get_questions(session, poll.id))


async def get_run_by_id(session: AsyncSession, poll_id: uuid.UUID) -> PollRun | None:
    """The poll with this id and its questions, the poll row locked (the timer's changes)."""
    query = select(Poll).where(col(Poll.id) == poll_id).with_for_update()
    poll = (await session.exec(query)).first()
    if poll is None:
        return None
    return PollRun(poll, await get_questions(session, poll.id))


async def get_runs(session: AsyncSession, polls_: Sequence[Poll]) -> list[PollRun]:
    """Many polls with their questions, in two queries (the reconciler's pass)."""
    ids = [p.id for p in polls_]
    rows = (await session.exec(select(Question).where(col(Question.poll_id).in_(ids)))).all()
    by_poll: dict[uuid.UUID, list[Question]] = {}
    for row in rows:
        by_poll.setdefault(row.poll_id, []).append(row)
    return [PollRun(p, by_poll[p.id]) for p in polls_ if by_poll.get(p.id)]


@dataclass(frozen=True)
class TallyRow:
    """One question's row of the worker's `tallies`."""

    qid: int
    kind: str
    epoch: int
    counts: list[int]
    total: int
    version: int
    counters: dict[str, int]
    aggregate: dict[str, Any]


async def read_tallies(session: AsyncSession, poll_id: uuid.UUID) -> dict[int, TallyRow]:
    """The vote-worker's tallies of a poll by qid (a question has none until its first answer)."""
    t = tallies.c
    query = sa_select(
        t.qid, t.kind, t.epoch, t.counts, t.total, t.version, t.counters, t.aggregate
    ).where(t.poll_id == poll_id)
    rows = (await (await session.connection()).execute(query)).all()
    return {
        int(qid): TallyRow(
            qid=int(qid),
            kind=str(kind),
            epoch=int(epoch),
            counts=[int(c) for c in counts or []],
            total=int(total),
            version=int(version),
            counters=dict(counters or {}),
            aggregate=dict(aggregate or {}),
        )
        for qid, kind, epoch, counts, total, version, counters, aggregate in rows
    }
