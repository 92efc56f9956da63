"""A poll's quiz leaderboard from the vote-worker's `quiz_scores` and `quiz_boards`.

The worker owns the quiz tables (docs/quiz.md) and recomputes them in one transaction per
poll; poll-api only reads them, as it reads `tallies`. The board and its top rows are read in
one statement, so `version` and `top` are of the same recomputation.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.polls import PollStatus
from contracts.questions import QuizQuestion
from poll_api.run import PollRun, effective_status, spec_of

DEFAULT_TOP = 10
MAX_TOP = 1000

# The order of a leaderboard (docs/quiz.md): score, then less time on correct answers; the
# participant id only orders rows of equal rank. `rank` is the worker's RANK() over the first two.
_BOARD = text(
    """
    SELECT b.version, b.qid,
           (SELECT count(*) FROM quiz_scores c WHERE c.poll_id = b.poll_id) AS participants,
           s.rank, s.nickname, s.score
    FROM quiz_boards b
    LEFT JOIN LATERAL (
        SELECT rank, nickname, score, correct_time_us, participant_id
        FROM quiz_scores q
        WHERE q.poll_id = b.poll_id
        ORDER BY score DESC, correct_time_us, participant_id
        LIMIT :top
    ) s ON true
    WHERE b.poll_id = :poll_id
    ORDER BY s.score DESC, s.correct_time_us, s.participant_id
    """
)


class LeaderboardRow(BaseModel):
    rank: int = Field(ge=1, description="Competition rank (1, 2, 2, 4) over score and time.")
    nickname: str
    score: int = Field(ge=0)


class LeaderboardPublic(BaseModel):
    """`GET /api/polls/{room_code}/leaderboard`: what the `leaderboard` frame carries."""

    poll_id: uuid.UUID
    room_code: str
    question: int | None = Field(
        description="Index of the quiz question scored last (null before the first close)."
    )
    qid: int | None = Field(description="Its stable id.")
    correct_options: list[int] = Field(
        description="Its correct options while it is closed (empty otherwise)."
    )
    version: int = Field(ge=0, description="Per poll, higher is newer; 0 before any score.")
    participants: int = Field(ge=0, description="How many participants are ranked.")
    top: list[LeaderboardRow] = Field(description="The first `top` rows, by rank.")


def _correct_options(run: PollRun, qid: int | None, now: datetime) -> list[int]:
    """The scored question's correct options, only while it is closed (invariant 6)."""
    question = run.by_qid(qid) if qid is not None else None
    if question is None or effective_status(question, now) != PollStatus.CLOSED:
        return []
    spec = spec_of(question)
    return list(spec.correct) if isinstance(spec, QuizQuestion) else []


async def read_leaderboard(
    session: AsyncSession, run: PollRun, top: int, now: datetime
) -> LeaderboardPublic:
    """The board of `run`'s poll with its first `top` rows (empty, version 0, before any)."""
    connection = await session.connection()
    rows = (await connection.execute(_BOARD, {"poll_id": run.poll.id, "top": top})).all()
    board: dict[str, Any] = {"version": 0, "qid": None, "participants": 0}
    if rows:
        first = rows[0]
        board = {
            "version": int(first.version),
            # None once no quiz question is closed any more (every one reset): nothing to show.
            "qid": int(first.qid) if first.qid is not None else None,
            "participants": int(first.participants),
        }
    qid = board["qid"]
    question = run.by_qid(qid) if qid is not None else None
    return LeaderboardPublic(
        poll_id=run.poll.id,
        room_code=run.poll.room_code,
        question=question.position if question is not None else None,
        qid=qid,
        correct_options=_correct_options(run, qid, now),
        version=board["version"],
        participants=board["participants"],
        top=[
            LeaderboardRow(rank=int(r.rank), nickname=str(r.nickname), score=int(r.score))
            for r in rows
            if r.rank is not None
        ],
    )
