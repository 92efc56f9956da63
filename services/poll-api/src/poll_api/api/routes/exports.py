"""The host's per-participant exports (poll_api.participants_export)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from poll_api import service
from poll_api.api.deps import CallerDep, ReadSessionDep, RoomCodeDep, SessionDep
from poll_api.participants_export import (
    columns_of,
    export_csv,
    export_json,
    first_page_reader,
)

router = APIRouter(prefix="/api/polls", tags=["results"])


def _answers(media: str, what: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"content": {media: {}}, "description": what},
        401: {"description": "Missing or malformed Authorization: Bearer <host_token>"},
        403: {"description": "Wrong host token, or another account's poll"},
        404: {"description": "Unknown room code"},
    }


def _attachment(room_code: str, suffix: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="poll-{room_code}-{suffix}"'}


@router.get(
    "/{room_code}/participants.csv",
    response_class=StreamingResponse,
    responses=_answers("text/csv", "One row per participant: each answer and its time"),
)
async def participants_csv(
    room_code: RoomCodeDep, reads: ReadSessionDep, session: SessionDep, caller: CallerDep
) -> StreamingResponse:
    """Every participant with each answer (labels) and when it was accepted; streamed."""
    run = await service.host_read(reads, session, room_code, caller, "participants_csv")
    columns = columns_of(run)
    first = await reads.run(first_page_reader(run.poll.id, columns))
    return StreamingResponse(
        export_csv(reads.run_again, run.poll.id, columns, first),
        media_type="text/csv; charset=utf-8",
        headers=_attachment(run.poll.room_code, "participants.csv"),
    )


@router.get(
    "/{room_code}/participants.json",
    response_class=StreamingResponse,
    responses=_answers("application/json", "Every participant with their stored answers"),
)
async def participants_json(
    room_code: RoomCodeDep, reads: ReadSessionDep, session: SessionDep, caller: CallerDep
) -> StreamingResponse:
    """Every participant with each stored answer object and when it was accepted; streamed."""
    run = await service.host_read(reads, session, room_code, caller, "participants_json")
    columns = columns_of(run)
    first = await reads.run(first_page_reader(run.poll.id, columns))
    return StreamingResponse(
        export_json(reads.run_again, run, columns, first),
        media_type="application/json",
        headers=_attachment(run.poll.room_code, "participants.json"),
    )
