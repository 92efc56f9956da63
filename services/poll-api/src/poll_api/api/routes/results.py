"""Results as JSON or CSV: for the host, or for anyone once the question is revealed.

`/results` and `/results.csv` need the host until the current question is revealed, and then
show anyone the revealed questions only; `/questions/{n}/results` needs the host until
question n is revealed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import utcnow
from poll_api import crud, service
from poll_api.api.deps import CallerDep, ReadSessionDep, RoomCodeDep, SessionDep
from poll_api.crud import TallyRow
from poll_api.errors import HostAuthFailed
from poll_api.reads import ReadSession
from poll_api.results import (
    QuestionResultsPublic,
    ResultsPublic,
    question_results,
    results_public,
)
from poll_api.results_csv import results_csv
from poll_api.run import PollRun, spec_of

router = APIRouter(prefix="/api/polls", tags=["results"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not revealed yet and no host token"},
    403: {"description": "Not revealed yet and a wrong host token"},
    404: {"description": "Unknown room code (or no question at that index)"},
}


async def _run_and_tallies(
    session: AsyncSession, room_code: str
) -> tuple[PollRun, dict[int, TallyRow]]:
    run = await crud.get_run(session, room_code)
    return run, await crud.read_tallies(session, run.poll.id)


async def _read(
    reads: ReadSession,
    session: AsyncSession,
    room_code: str,
    caller: service.Caller,
    index: int | None = None,
) -> tuple[PollRun, dict[int, TallyRow], bool]:
    """The run, its tallies, and whether the caller is its host (required unless revealed).

    Read through `reads` (the replica when it may answer); `session` (the primary) records a
    refusal."""
    run, tallies = await reads.run(lambda s: _run_and_tallies(s, room_code))
    if index is None:
        revealed = run.current.revealed
    else:
        revealed = 0 <= index < len(run.questions) and run.questions[index].revealed
    is_host = True
    try:
        await service.authorize(session, run.poll, caller)
    except HostAuthFailed as exc:
        if not revealed:
            await service.record_auth_failure(session, run.poll, caller, exc, action="results")
            raise
        is_host = False
    return run, tallies, is_host


@router.get(
    "/{room_code}/results",
    response_model=ResultsPublic,
    response_model_exclude_unset=True,
    responses=_ERRORS,
)
async def get_results(
    room_code: RoomCodeDep, reads: ReadSessionDep, session: SessionDep, caller: CallerDep
) -> ResultsPublic:
    """The current question's results at the top level; every question's in `questions`."""
    run, tallies, is_host = await _read(reads, session, room_code, caller)
    return results_public(run, tallies, utcnow(), only_revealed=not is_host)


@router.get(
    "/{room_code}/questions/{index}/results",
    response_model=QuestionResultsPublic,
    response_model_exclude_unset=True,
    responses=_ERRORS,
)
async def get_question_results(
    room_code: RoomCodeDep,
    index: int,
    reads: ReadSessionDep,
    session: SessionDep,
    caller: CallerDep,
) -> QuestionResultsPublic:
    """One question's results, with its kind's aggregate fields at the top level."""
    run, tallies, is_host = await _read(reads, session, room_code, caller, index)
    found = question_results(run, run.at(index).position, tallies, utcnow(), host=is_host)
    return QuestionResultsPublic(
        **found.model_dump(exclude_unset=True), poll_id=run.poll.id, room_code=run.poll.room_code
    )


@router.get(
    "/{room_code}/results.csv",
    response_class=Response,
    responses={**_ERRORS, 200: {"content": {"text/csv": {}}, "description": "One row per option"}},
)
async def get_results_csv(
    room_code: RoomCodeDep, reads: ReadSessionDep, session: SessionDep, caller: CallerDep
) -> Response:
    """Every question's results (docs/api.md lists the columns)."""
    run, tallies, is_host = await _read(reads, session, room_code, caller)
    results = results_public(run, tallies, utcnow(), only_revealed=not is_host)
    minima = [getattr(spec_of(run.at(q.index)), "min", 0) for q in results.questions]
    return Response(
        content=results_csv(results.questions, minima),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="poll-{run.poll.room_code}-results.csv"'
        },
    )
