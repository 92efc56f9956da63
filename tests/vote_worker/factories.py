"""Polls and votes for vote-worker tests, written straight to the shared test database."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from contracts import PollEvent, PollView, Vote, VoteBatch
from contracts.polls import ROOM_CODE_ALPHABET, ROOM_CODE_LENGTH

_rng = random.SystemRandom()


def room_code() -> str:
    return "".join(_rng.choice(ROOM_CODE_ALPHABET) for _ in range(ROOM_CODE_LENGTH))


async def create_poll(
    db: asyncpg.Connection, *, options: int = 3, status: str = "open", epoch: int = 0
) -> UUID:
    """A polls row as poll-api would write it (the worker only reads it)."""
    poll_id = uuid.uuid4()
    await db.execute(
        """
        INSERT INTO polls (id, room_code, question, options, status, epoch, host_token_hash,
                           expires_at)
        VALUES ($1, $2, 'Which one?', $3::jsonb, $4, $5, $6, now() + interval '30 days')
        """,
        poll_id,
        room_code(),
        json.dumps([f"option {i}" for i in range(options)]),
        status,
        epoch,
        "0" * 64,
    )
    return poll_id


async def set_poll(db: asyncpg.Connection, poll_id: UUID, **values: object) -> None:
    """Change poll columns as poll-api would (e.g. status, or epoch for a reset)."""
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
    return Vote(
        vote_id=vote_id or uuid.uuid4(),
        poll_id=poll_id,
        participant_id=participant_id,
        option=option,
        seq=seq,
        epoch=epoch,
        cast_at=datetime.now(UTC),
    )


def poll_event(event: str, view: PollView) -> PollEvent:
    """A poll event as poll-api's relay publishes it."""
    return PollEvent(
        event_id=uuid.uuid4(),
        event=event,  # type: ignore[arg-type]
        poll=view,
        state_version=1,
        occurred_at=datetime.now(UTC),
    )


def batch(*votes: Vote) -> VoteBatch:
    return VoteBatch(batch_id=uuid.uuid4(), gateway_id="test-gateway", votes=list(votes))


async def group_by(db: asyncpg.Connection, poll_id: UUID, options: int) -> list[int]:
    """Counts per option from the stored votes: what the tally must equal."""
    counts = [0] * options
    for row in await db.fetch(
        "SELECT option, count(*) AS n FROM votes WHERE poll_id = $1 GROUP BY option", poll_id
    ):
        counts[row["option"]] = row["n"]
    return counts


async def tally(db: asyncpg.Connection, poll_id: UUID) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT epoch, counts, total, version FROM tallies WHERE poll_id = $1", poll_id
    )


async def stored_options(db: asyncpg.Connection, poll_id: UUID) -> dict[UUID, int]:
    rows = await db.fetch("SELECT participant_id, option FROM votes WHERE poll_id = $1", poll_id)
    return {row["participant_id"]: row["option"] for row in rows}
