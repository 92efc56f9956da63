"""Participants as the gateways announce them: one row per poll and participant."""

from __future__ import annotations

import asyncpg

from contracts import ParticipantJoined

# Idempotent: a redelivered or older join never moves last_seen_at back or joined_at forward.
_UPSERT_PARTICIPANT = """
INSERT INTO participants (poll_id, participant_id, nickname, joined_at, last_seen_at)
VALUES ($1, $2, $3, $4, $4)
ON CONFLICT (poll_id, participant_id) DO UPDATE
SET nickname = CASE WHEN excluded.last_seen_at >= participants.last_seen_at
                    THEN excluded.nickname ELSE participants.nickname END,
    joined_at = LEAST(participants.joined_at, excluded.joined_at),
    last_seen_at = GREATEST(participants.last_seen_at, excluded.last_seen_at)
"""


async def upsert_participant(
    conn: asyncpg.Connection | asyncpg.Pool, joined: ParticipantJoined
) -> None:
    await conn.execute(
        _UPSERT_PARTICIPANT,
        joined.poll_id,
        joined.participant_id,
        joined.nickname,
        joined.joined_at,
    )
