"""Creating polls, their public view, and the host's lifecycle actions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from poll_api import service
from poll_api.deps import CallerDep, ContextDep, RoomCodeDep, SessionDep
from poll_api.host_accounts import HostAccountDep
from poll_api.lifecycle import HostAction
from poll_api.models import PollCreate, PollCreated, PollPublic
from poll_api.views import poll_public

router = APIRouter(prefix="/api/polls", tags=["polls"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Unknown room code"}}
_HOST_ERRORS: dict[int | str, dict[str, Any]] = {
    **_NOT_FOUND,
    401: {"description": "Missing or malformed Authorization: Bearer <host_token>"},
    403: {"description": "Wrong host token"},
    409: {"description": "Not allowed in the poll's current state (nothing changed)"},
}
_CREATE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Host accounts are enabled and no host API key was given"},
    403: {"description": "Host accounts are enabled and the host API key is wrong"},
}


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=PollCreated, responses=_CREATE_ERRORS
)
async def create_poll(
    body: PollCreate,
    ctx: ContextDep,
    session: SessionDep,
    caller: CallerDep,
    _host_account: HostAccountDep,
) -> PollCreated:
    """Create a draft poll. The host token is returned only here: keep it."""
    poll, token = await service.create_poll(ctx, session, body, caller)
    return PollCreated(
        id=poll.id,
        room_code=poll.room_code,
        host_token=token,
        join_url=ctx.settings.join_url(poll.room_code),
        poll=poll_public(poll),
    )


@router.get("/{room_code}", response_model=PollPublic, responses=_NOT_FOUND)
async def get_poll(room_code: RoomCodeDep, ctx: ContextDep, session: SessionDep) -> PollPublic:
    """The public view of a poll (results once revealed). Also refreshes the Redis cache."""
    poll, participants, results = await service.public_poll(ctx, session, room_code)
    return poll_public(poll, participant_count=participants, results=results)


async def _host_action(
    action: HostAction, room_code: str, ctx: ContextDep, session: SessionDep, caller: CallerDep
) -> PollPublic:
    poll = await service.run_host_action(ctx, session, room_code, action, caller)
    return poll_public(poll)


@router.post("/{room_code}/open", response_model=PollPublic, responses=_HOST_ERRORS)
async def open_poll(
    room_code: RoomCodeDep, ctx: ContextDep, session: SessionDep, caller: CallerDep
) -> PollPublic:
    """Start accepting votes (from draft, or again after closing)."""
    return await _host_action("open", room_code, ctx, session, caller)


@router.post("/{room_code}/close", response_model=PollPublic, responses=_HOST_ERRORS)
async def close_poll(
    room_code: RoomCodeDep, ctx: ContextDep, session: SessionDep, caller: CallerDep
) -> PollPublic:
    """Stop accepting votes. Once this returns, no further vote is accepted."""
    return await _host_action("close", room_code, ctx, session, caller)


@router.post("/{room_code}/reveal", response_model=PollPublic, responses=_HOST_ERRORS)
async def reveal_poll(
    room_code: RoomCodeDep, ctx: ContextDep, session: SessionDep, caller: CallerDep
) -> PollPublic:
    """Make the results public (in any status)."""
    return await _host_action("reveal", room_code, ctx, session, caller)


@router.post("/{room_code}/reset", response_model=PollPublic, responses=_HOST_ERRORS)
async def reset_poll(
    room_code: RoomCodeDep, ctx: ContextDep, session: SessionDep, caller: CallerDep
) -> PollPublic:
    """Discard all votes (a new epoch) and return the poll to draft, unrevealed."""
    return await _host_action("reset", room_code, ctx, session, caller)
