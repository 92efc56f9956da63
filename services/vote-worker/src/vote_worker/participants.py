"""Participants as the gateways announce them: one row per poll and participant.

A gateway sends one `ParticipantJoined` or, for the joins of one publish round trip, one
`ParticipantsJoined`; both are stored by one statement."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
from pydantic import TypeAdapter

from contracts import ParticipantJoined, ParticipantsJoined

# Idempotent: a redelivered or older join never moves last_seen_at back or joined_at forward.
_UPSERT_PARTICIPANT = """
INSERT INTO participants (poll_id, participant_id, nickname, joined_at, last_seen_at)
SELECT j.poll_id, j.participant_id, j.nickname, j.joined_at, j.last_seen_at
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::timestamptz[])
     AS j(poll_id, participant_id, nickname, joined_at, last_seen_at)
ON CONFLICT (poll_id, participant_id) DO UPDATE
SET nickname = CASE WHEN excluded.last_seen_at >= participants.last_seen_at
                    THEN excluded.nickname ELSE participants.nickname END,
    joined_at = LEAST(participants.joined_at, excluded.joined_at),
    last_seen_at = GREATEST(participants.last_seen_at, excluded.last_seen_at)
"""


# Either contract: the batch has `joins`, the single join has the participant's fields.
JOINS_ADAPTER: TypeAdapter[ParticipantsJoined | ParticipantJoined] = TypeAdapter(
    ParticipantsJoined | ParticipantJoined
)


def joins_of(message: ParticipantsJoined | ParticipantJoined) -> list[ParticipantJoined]:
    return message.joins if isinstance(message, ParticipantsJoined) else [message]


async def upsert_participants(
    conn: asyncpg.Connection | asyncpg.Pool, joins: list[ParticipantJoined]
) -> None:
    """One statement for all. A batch that joins one participant twice (a resume right after a
    join) gives one row, as two messages would: the earliest join, the latest nickname
    (Postgres refuses an upsert that touches one row twice)."""
    rows: dict[tuple[UUID, UUID], _Row] = {}
    for j in joins:
        row = rows.get((j.poll_id, j.participant_id))
        if row is None:
            rows[(j.poll_id, j.participant_id)] = _Row(j.nickname, j.joined_at, j.joined_at)
            continue
        if j.joined_at >= row.last_seen_at:
            row.nickname, row.last_seen_at = j.nickname, j.joined_at
        row.joined_at = min(row.joined_at, j.joined_at)
    await conn.execute(
        _UPSERT_PARTICIPANT,
        [poll for poll, _ in rows],
        [participant for _, participant in rows],
        [r.nickname for r in rows.values()],
        [r.joined_at for r in rows.values()],
        [r.last_seen_at for r in rows.values()],
    )


@dataclass
class _Row:
    nickname: str
    joined_at: datetime
    last_seen_at: datetime
