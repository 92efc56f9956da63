"""Polls, questions and votes for vote-worker tests, written straight to the shared test
database as poll-api and a gateway would write them."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from contracts import PollEvent, PollView, Vote, VoteBatch
from contracts.answers import ANSWER_ADAPTER, Answer
from contracts.polls import ROOM_CODE_ALPHABET, ROOM_CODE_LENGTH
from contracts.questions import parse_question

_rng = random.SystemRandom()


def room_code() -> str:
    return "".join(_rng.choice(ROOM_CODE_ALPHABET) for _ in range(ROOM_CODE_LENGTH))


def single(options: int = 3) -> dict[str, Any]:
    return {
        "kind": "single",
        "prompt": "Which one?",
        "options": [f"option {i}" for i in range(options)],
    }


async def create_run(
    db: asyncpg.Connection,
    specs: list[dict[str, Any]],
    *,
    status: str = "open",
    epoch: int = 0,
) -> UUID:
    """A poll with these questions (qid = position), each with `status` and `epoch`, as
    poll-api writes them; the polls row mirrors question 0 (the worker only reads questions)."""
    poll_id = uuid.uuid4()
    first = parse_question(specs[0])
    await db.execute(
        """
        INSERT INTO polls (id, room_code, question, options, status, epoch, host_token_hash,
                           expires_at, next_qid)
        VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, now() + interval '30 days', $8)
        """,
        poll_id,
        room_code(),
        first.prompt,
        json.dumps(getattr(first, "options", [])),
        status,
        epoch,
        "0" * 64,
        len(specs),
    )
    for qid, spec in enumerate(specs):
        question = parse_question(spec)
        await db.execute(
            """
            INSERT INTO questions (poll_id, qid, position, kind, spec, status, epoch, ever_opened)
            VALUES ($1, $2, $2, $3, $4::jsonb, $5::varchar, $6, $5::varchar <> 'draft')
            """,
            poll_id,
            qid,
            question.kind,
            question.model_dump_json(),
            status,
            epoch,
        )
    return poll_id


async def create_poll(
    db: asyncpg.Connection, *, options: int = 3, status: str = "open", epoch: int = 0
) -> UUID:
    """A poll of one single-choice question (qid 0), the shorthand form."""
    return await create_run(db, [single(options)], status=status, epoch=epoch)


async def set_question(
    db: asyncpg.Connection, poll_id: UUID, qid: int = 0, **values: object
) -> None:
    """Change question columns as poll-api would (e.g. status, or epoch for a reset)."""
    sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(values, start=3))
    await db.execute(
        f"UPDATE questions SET {sets}, updated_at = now() WHERE poll_id = $1 AND qid = $2",
        poll_id,
        qid,
        *values.values(),
    )


async def set_poll(db: asyncpg.Connection, poll_id: UUID, **values: object) -> None:
    """A change of the poll's only question (qid 0), mirrored on the polls row."""
    await set_question(db, poll_id, 0, **values)
    sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(values, start=2))
    await db.execute(
        f"UPDATE polls SET {sets}, updated_at = now() WHERE id = $1", poll_id, *values.values()
    )


def vote(
    poll_id: UUID,
    participant_id: UUID,
    option: int,
    seq: int,
    *,
    epoch: int = 0,
    vote_id: UUID | None = None,
) -> Vote:
    """A first-version vote: an option, no question (question 0)."""
    return Vote.model_validate(
        {
            "vote_id": vote_id or uuid.uuid4(),
            "poll_id": poll_id,
            "participant_id": participant_id,
            "option": option,
            "seq": seq,
            "epoch": epoch,
            "cast_at": datetime.now(UTC),
        }
    )


def answer(
    poll_id: UUID,
    participant_id: UUID,
    qid: int,
    fields: dict[str, Any],
    seq: int,
    *,
    epoch: int = 0,
    vote_id: UUID | None = None,
) -> Vote:
    """A second-version vote: an answer of any kind (`fields` with its `kind`) to question qid."""
    parsed = ANSWER_ADAPTER.validate_python(fields)
    option = fields.get("option") if fields.get("kind") == "single" else None
    return Vote(
        vote_id=vote_id or uuid.uuid4(),
        poll_id=poll_id,
        participant_id=participant_id,
        qid=qid,
        answer=parsed,
        option=option,
        seq=seq,
        epoch=epoch,
        cast_at=datetime.now(UTC),
    )


def poll_event(event: str, view: PollView, qid: int | None = 0) -> PollEvent:
    """A poll event as poll-api's relay publishes it."""
    return PollEvent(
        event_id=uuid.uuid4(),
        event=event,  # type: ignore[arg-type]
        poll=view,
        state_version=1,
        occurred_at=datetime.now(UTC),
        qid=qid,
    )


def batch(*votes: Vote) -> VoteBatch:
    return VoteBatch(batch_id=uuid.uuid4(), gateway_id="test-gateway", votes=list(votes))


async def group_by(db: asyncpg.Connection, poll_id: UUID, options: int, qid: int = 0) -> list[int]:
    """Counts per option from the stored votes of a single-choice question."""
    counts = [0] * options
    for row in await db.fetch(
        "SELECT option, count(*) AS n FROM votes WHERE poll_id = $1 AND qid = $2 GROUP BY option",
        poll_id,
        qid,
    ):
        counts[row["option"]] = row["n"]
    return counts


async def tally(db: asyncpg.Connection, poll_id: UUID, qid: int = 0) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT kind, epoch, counts, total, version, counters::text AS counters,"
        " aggregate::text AS aggregate FROM tallies WHERE poll_id = $1 AND qid = $2",
        poll_id,
        qid,
    )


async def aggregate(db: asyncpg.Connection, poll_id: UUID, qid: int = 0) -> dict[str, Any] | None:
    row = await tally(db, poll_id, qid)
    return None if row is None else json.loads(row["aggregate"])


async def stored_options(db: asyncpg.Connection, poll_id: UUID) -> dict[UUID, int]:
    rows = await db.fetch(
        "SELECT participant_id, option FROM votes WHERE poll_id = $1 AND qid = 0", poll_id
    )
    return {row["participant_id"]: row["option"] for row in rows}


async def stored_answers(db: asyncpg.Connection, poll_id: UUID, qid: int) -> dict[UUID, Answer]:
    rows = await db.fetch(
        "SELECT participant_id, answer::text AS answer FROM votes WHERE poll_id = $1 AND qid = $2",
        poll_id,
        qid,
    )
    return {row["participant_id"]: ANSWER_ADAPTER.validate_json(row["answer"]) for row in rows}
