"""The vote-worker's quiz rows, written directly (poll-api only reads them).

The tables are the worker's own (`quiz_scores`, `quiz_points`, `quiz_boards`: vote-worker
migration 0004, applied to the session's database like every migration).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import asyncpg

from contracts.scoring import Standing, rank_standings


@dataclass(frozen=True)
class Player:
    """A participant's standing as the worker stores it."""

    nickname: str
    score: int
    correct_time_us: int
    streak: int = 0
    participant_id: uuid.UUID | None = None

    def standing(self, pid: uuid.UUID) -> Standing:
        return Standing(pid, self.score, Fraction(self.correct_time_us, 1_000_000), self.nickname)


async def store_scores(
    db: asyncpg.Connection,
    poll_id: str,
    players: Sequence[Player],
    *,
    qid: int | None,
    version: int,
) -> dict[str, uuid.UUID]:
    """quiz_scores and quiz_boards of a recomputation: ranks from `contracts.scoring`.

    Returns each nickname's participant id.
    """
    ids = {p.nickname: p.participant_id or uuid.uuid4() for p in players}
    ranked = rank_standings(p.standing(ids[p.nickname]) for p in players)
    ranks = {r.standing.participant_id: r.rank for r in ranked}
    pid = uuid.UUID(poll_id)
    await db.execute("DELETE FROM quiz_scores WHERE poll_id = $1", pid)
    for p in players:  # in the given order: the table's order must not matter
        await db.execute(
            """
            INSERT INTO quiz_scores (poll_id, participant_id, nickname, score, correct_time_us,
                                     streak, rank, version)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            """,
            pid,
            ids[p.nickname],
            p.nickname,
            p.score,
            p.correct_time_us,
            p.streak,
            ranks[ids[p.nickname]],
            version,
        )
    await db.execute(
        """
        INSERT INTO quiz_boards (poll_id, version, qid, participants) VALUES ($1, $2, $3, $4)
        ON CONFLICT (poll_id) DO UPDATE
        SET version = excluded.version, qid = excluded.qid, participants = excluded.participants
        """,
        pid,
        version,
        qid,
        len(players),
    )
    return ids


async def store_points(
    db: asyncpg.Connection,
    poll_id: str,
    qid: int,
    participant: uuid.UUID,
    *,
    points: int,
    bonus: int = 0,
    elapsed_us: int | None,
    correct: bool = True,
    streak: int = 0,
) -> None:
    await db.execute(
        """
        INSERT INTO quiz_points (poll_id, qid, participant_id, correct, points, bonus, streak,
                                 elapsed_us)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        """,
        uuid.UUID(poll_id),
        qid,
        participant,
        correct,
        points,
        bonus,
        streak,
        elapsed_us,
    )


async def store_answer(
    db: asyncpg.Connection,
    poll_id: str,
    qid: int,
    participant: uuid.UUID,
    answer: dict[str, Any],
    *,
    epoch: int = 0,
) -> None:
    """The participant's counted answer in `votes`, as the worker stores it."""
    await db.execute(
        """
        INSERT INTO votes (poll_id, qid, participant_id, option, seq, vote_id, epoch, cast_at,
                           answer)
        VALUES ($1, $2, $3, NULL, 1, $4, $5, $6, $7::jsonb)
        """,
        uuid.UUID(poll_id),
        qid,
        participant,
        uuid.uuid4(),
        epoch,
        datetime.now(UTC),
        json.dumps(answer),
    )
