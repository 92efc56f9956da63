"""A poll's quiz leaderboard: the ranked table for anyone, the per-participant CSV for its host.

Scores are the vote-worker's (`quiz_scores`, `quiz_points`, `quiz_boards`; docs/quiz.md). The
table is public like the `leaderboard` frame every screen gets after a quiz question closes;
the export names every participant's answers, so it needs the host token (checked before
anything about the poll is read).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import utcnow
from poll_api import crud, service
from poll_api.api.deps import CallerDep, ReadSessionDep, RoomCodeDep, SessionDep
from poll_api.leaderboard import DEFAULT_TOP, MAX_TOP, LeaderboardPublic, read_leaderboard
from poll_api.leaderboard_csv import leaderboard_csv, quiz_columns, read_page

router = APIRouter(prefix="/api/polls", tags=["quiz"])

_CSV_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {}},
        "description": "One row per ranked participant, best first (docs/api.md lists the columns)",
    },
    401: {"description": "Missing or malformed Authorization: Bearer <host_token>"},
    403: {"description": "Wrong host token"},
    404: {"description": "Unknown room code"},
}


@router.get(
    "/{room_code}/leaderboard",
    response_model=LeaderboardPublic,
    responses={404: {"description": "Unknown room code"}},
)
async def get_leaderboard(
    room_code: RoomCodeDep,
    reads: ReadSessionDep,
    top: int = Query(
        DEFAULT_TOP, ge=1, le=MAX_TOP, description=f"How many rows, 1 to {MAX_TOP}, by rank."
    ),
) -> LeaderboardPublic:
    """The quiz's ranking after the quiz question scored last: score, then less time on
    correct answers; equal score and time share a rank. Empty (version 0) before any close."""

    async def read(session: AsyncSession) -> LeaderboardPublic:
        run = await crud.get_run(session, room_code)
        return await read_leaderboard(session, run, top, utcnow())

    return await reads.run(read)


@router.get(
    "/{room_code}/leaderboard.csv", response_class=StreamingResponse, responses=_CSV_ANSWERS
)
async def get_leaderboard_csv(
    room_code: RoomCodeDep, reads: ReadSessionDep, session: SessionDep, caller: CallerDep
) -> StreamingResponse:
    """Every ranked participant: their answer, time, points and bonus per closed quiz
    question, their total and rank. Streamed page by page."""
    run = await service.host_read(reads, session, room_code, caller, "leaderboard_csv")
    columns = quiz_columns(run, utcnow())
    first = await reads.run(lambda s: read_page(s, run.poll.id, columns, None))
    return StreamingResponse(
        leaderboard_csv(reads.run_again, run.poll.id, columns, first),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": (
                f'attachment; filename="poll-{run.poll.room_code}-leaderboard.csv"'
            )
        },
    )
