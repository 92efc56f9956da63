"""Creating polls, their public view, and the host's lifecycle actions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from poll_api import service
from poll_api.api.deps import CallerDep, ContextDep, HostAccountDep, RoomCodeDep, SessionDep
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


# Each host action is its own operation (`POST /{room_code}/open`, ...), with its description.
_HOST_ACTIONS: dict[HostAction, str] = {
    "open": "Start accepting votes (from draft, or again after closing).",
    "close": "Stop accepting votes. Once this returns, no further vote is accepted.",
    "reveal": "Make the results public (in any status).",
    "reset": "Discard all votes (a new epoch) and return the poll to draft, unrevealed.",
}


def _add_host_action(action: HostAction, description: str) -> None:
    async def run_action(
        room_code: RoomCodeDep, ctx: ContextDep, session: SessionDep, caller: CallerDep
    ) -> PollPublic:
        poll = await service.run_host_action(ctx, session, room_code, action, caller)
        return poll_public(poll)

    run_action.__doc__ = description
    router.add_api_route(
        f"/{{room_code}}/{action}",
        run_action,
        methods=["POST"],
        name=f"{action}_poll",
        response_model=PollPublic,
        responses=_HOST_ERRORS,
    )


for _action, _description in _HOST_ACTIONS.items():
    _add_host_action(_action, _description)
