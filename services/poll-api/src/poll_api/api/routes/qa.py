"""The Q&A board's host routes: read the whole board (pending items too) and moderate it.

Every route checks the host token before anything about the poll or its board is read or told
(a stranger gets 401/403, never a 404 or 409 that would reveal an item or the board's state).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, status

from poll_api import crud, service
from poll_api.api.deps import CallerDep, RoomCodeDep, SessionDep
from poll_api.errors import HostAuthFailed, InvalidTransition
from poll_api.qa import (
    HostVerb,
    ItemNotFound,
    ModerationQueued,
    PinBody,
    QaBoardHost,
    qa_settings,
    queue_moderation,
    read_board,
)

router = APIRouter(prefix="/api/polls", tags=["qa"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or malformed Authorization: Bearer <host_token>"},
    403: {"description": "Wrong host token"},
    404: {"description": "Unknown room code, or no such item on the poll's board"},
    409: {"description": "The poll has no Q&A board (settings.qa_enabled is off)"},
}


@router.get("/{room_code}/qa", response_model=QaBoardHost, responses=_ERRORS)
async def get_board(room_code: RoomCodeDep, session: SessionDep, caller: CallerDep) -> QaBoardHost:
    """Every item of the board for the host (and analysts with the host token): pending,
    approved, answered and hidden, in board order (pinned first, then score, then oldest)."""
    run = await service.host_run(session, room_code, caller, "qa_read")
    async with session.begin():
        return await read_board(session, run.poll)


async def _moderate(
    session: SessionDep,
    room_code: str,
    caller: CallerDep,
    item: uuid.UUID,
    verb: HostVerb,
    pinned: bool | None = None,
) -> ModerationQueued:
    failure: HostAuthFailed | None = None
    async with session.begin():
        poll = await crud.get_poll(session, room_code)
        try:
            await service.authorize(session, poll, caller)
        except HostAuthFailed as exc:
            failure = exc
        else:
            if not qa_settings(poll)[0]:
                raise InvalidTransition("this poll has no Q&A board (settings.qa_enabled)")
            try:
                moderation = await queue_moderation(
                    session,
                    poll,
                    item,
                    verb,
                    pinned,
                    correlation_id=caller.correlation_id,
                    client_ip=caller.client_ip,
                )
            except ItemNotFound:
                raise HTTPException(404, "no such item on this poll's board") from None
    if failure is not None:
        await service.record_auth_failure(session, poll, caller, failure, action=f"qa_{verb}")
        raise failure
    return ModerationQueued(item=item, moderation=moderation)


@router.post(
    "/{room_code}/qa/{item}/approve",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ModerationQueued,
    responses=_ERRORS,
)
async def approve(
    room_code: RoomCodeDep, item: uuid.UUID, session: SessionDep, caller: CallerDep
) -> ModerationQueued:
    """Release a pending (or hidden) item to every screen."""
    return await _moderate(session, room_code, caller, item, "approve")


@router.post(
    "/{room_code}/qa/{item}/hide",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ModerationQueued,
    responses=_ERRORS,
)
async def hide(
    room_code: RoomCodeDep, item: uuid.UUID, session: SessionDep, caller: CallerDep
) -> ModerationQueued:
    """Take an item off every participant's and presenter's screen (approve shows it again)."""
    return await _moderate(session, room_code, caller, item, "hide")


@router.post(
    "/{room_code}/qa/{item}/answered",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ModerationQueued,
    responses=_ERRORS,
)
async def answered(
    room_code: RoomCodeDep, item: uuid.UUID, session: SessionDep, caller: CallerDep
) -> ModerationQueued:
    """Mark an item answered: it stays on the board, marked so."""
    return await _moderate(session, room_code, caller, item, "answered")


@router.post(
    "/{room_code}/qa/{item}/pin",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ModerationQueued,
    responses=_ERRORS,
)
async def pin(
    room_code: RoomCodeDep,
    item: uuid.UUID,
    session: SessionDep,
    caller: CallerDep,
    body: PinBody | None = None,
) -> ModerationQueued:
    """Pin (`{"pinned": true}`), unpin (`{"pinned": false}`), or without a body toggle the pin.
    Pinned items come first on the board."""
    return await _moderate(
        session, room_code, caller, item, "pin", body.pinned if body is not None else None
    )
