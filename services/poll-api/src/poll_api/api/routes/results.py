"""Results of a poll, as JSON or CSV: for the host, or for anyone once revealed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from poll_api import service
from poll_api.api.deps import CallerDep, RoomCodeDep, SessionDep
from poll_api.models import ResultsPublic
from poll_api.results import results_csv
from poll_api.views import results_public

router = APIRouter(prefix="/api/polls", tags=["results"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not revealed yet and no host token"},
    403: {"description": "Not revealed yet and a wrong host token"},
    404: {"description": "Unknown room code"},
}


@router.get("/{room_code}/results", response_model=ResultsPublic, responses=_ERRORS)
async def get_results(
    room_code: RoomCodeDep, session: SessionDep, caller: CallerDep
) -> ResultsPublic:
    poll, results = await service.poll_results(session, room_code, caller)
    return results_public(poll, results)


@router.get(
    "/{room_code}/results.csv",
    response_class=Response,
    responses={**_ERRORS, 200: {"content": {"text/csv": {}}, "description": "One row per option"}},
)
async def get_results_csv(
    room_code: RoomCodeDep, session: SessionDep, caller: CallerDep
) -> Response:
    poll, results = await service.poll_results(session, room_code, caller)
    return Response(
        content=results_csv(results),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="poll-{poll.room_code}-results.csv"'
        },
    )
