"""Rows in every owned table, written straight into a migrated database."""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg

from contracts.polls import ROOM_CODE_ALPHABET

# Every table a service owns, with a column that orders its rows for comparisons.
TABLES = {
    "polls": "id",
    "questions": "poll_id, qid",
    "outbox": "id",
    "participants": "poll_id, participant_id",
    "ballots": "vote_id",
    "votes": "poll_id, qid, participant_id",
    "tallies": "poll_id, qid",
    "audit_log": "event_id",
}


@dataclass
class Seeded:
    polls: list[uuid.UUID] = field(default_factory=list)
    votes: dict[uuid.UUID, list[uuid.UUID]] = field(default_factory=dict)  # poll -> vote ids
    audit: dict[uuid.UUID | None, list[uuid.UUID]] = field(default_factory=dict)


async def seed_poll(
    conn: asyncpg.Connection, seeded: Seeded, *, expires_at: datetime, voters: int = 3
) -> uuid.UUID:
    poll_id = uuid.uuid4()
    room = "".join(secrets.choice(ROOM_CODE_ALPHABET) for _ in range(6))
    now = datetime.now(UTC)
    await conn.execute(
        "INSERT INTO polls (id, room_code, question, options, status, host_token_hash, "
        "created_at, updated_at, expires_at) VALUES ($1, $2, $3, $4::jsonb, 'closed', $5, "
        "$6, $6, $7)",
        poll_id, room, "Seeded?", json.dumps(["a", "b"]), "0" * 64, now, expires_at,
    )  # fmt: skip
    await conn.execute(
        "INSERT INTO questions (poll_id, qid, position, kind, spec, status, ever_opened, "
        "opened_at, closed_at, closed_by) VALUES ($1, 0, 0, 'single', $2::jsonb, 'closed', "
        "true, $3, $3, 'host')",
        poll_id, json.dumps({"kind": "single", "prompt": "Seeded?", "options": ["a", "b"]}), now,
    )  # fmt: skip
    counts = [0, 0]
    seeded.votes[poll_id] = []
    for i in range(voters):
        participant, vote_id, option = uuid.uuid4(), uuid.uuid4(), i % 2
        counts[option] += 1
        seeded.votes[poll_id].append(vote_id)
        await conn.execute(
            "INSERT INTO participants VALUES ($1, $2, $3, $4, $4)", poll_id, participant,
            f"p{i}", now,
        )  # fmt: skip
        for table in ("ballots", "votes"):
            columns = (
                "(vote_id, poll_id, participant_id, option, seq, epoch, cast_at, answer)"
                if table == "ballots"
                else "(poll_id, participant_id, option, seq, vote_id, epoch, cast_at, answer)"
            )
            answer = json.dumps({"kind": "single", "option": option})
            values = (
                (vote_id, poll_id, participant, option, 1, 0, now, answer)
                if table == "ballots"
                else (poll_id, participant, option, 1, vote_id, 0, now, answer)
            )
            await conn.execute(
                f"INSERT INTO {table} {columns} VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)",
                *values,
            )
    await conn.execute(
        "INSERT INTO tallies (poll_id, epoch, counts, total, version, aggregate) "
        "VALUES ($1, 0, $2, $3, 1, $4::jsonb)",
        poll_id, counts, voters,
        json.dumps({"kind": "single", "counts": counts, "total": voters}),
    )  # fmt: skip
    seeded.audit[poll_id] = [
        await seed_audit(conn, "poll.created", poll_id),
        await seed_audit(conn, "vote.recorded", poll_id),
    ]
    seeded.polls.append(poll_id)
    return poll_id


async def seed_audit(
    conn: asyncpg.Connection, kind: str, poll_id: uuid.UUID | None, at: datetime | None = None
) -> uuid.UUID:
    event_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO audit_log (event_id, kind, service, occurred_at, poll_id, data) "
        "VALUES ($1, $2, 'test', $3, $4, '{\"seeded\": true}'::jsonb)",
        event_id, kind, at or datetime.now(UTC), poll_id,
    )  # fmt: skip
    return event_id


async def seed_outbox(conn: asyncpg.Connection, published_at: datetime | None) -> None:
    await conn.execute(
        "INSERT INTO outbox (message_id, exchange, routing_key, message_type, body, "
        "published_at) VALUES ($1, 'zephyr.polls', 'poll.created', 't.v1', '{}'::jsonb, $2)",
        uuid.uuid4(), published_at,
    )  # fmt: skip


async def snapshot(database_url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every owned table, ordered: equal snapshots hold equal data."""
    conn = await asyncpg.connect(database_url)
    try:
        return {
            table: [tuple(r) for r in await conn.fetch(f"SELECT * FROM {table} ORDER BY {order}")]
            for table, order in TABLES.items()
        }
    finally:
        await conn.close()


def days_ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)
