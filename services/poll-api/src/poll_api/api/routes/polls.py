"""Creating polls, their public view, and the host's actions on the current question."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from contracts import utcnow
from poll_api import host_actions, service
from poll_api.api.deps import (
    CallerDep,
    ContextDep,
    HostAccountDep,
    ReadSessionDep,
    RoomCodeDep,
    SessionDep,
)
from poll_api.lifecycle import HostAction
from poll_api.models import PollCreate, PollCreated, PollPublic
from poll_api.results import poll_results
from poll_api.views import poll_public, questions_host

router = APIRouter(prefix="/api/polls", tags=["polls"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Unknown room code"}}
HOST_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or malformed Authorization: Bearer <host_token>"},
    403: {"description": "Wrong host token"},
    404: {"description": "Unknown room code, or no question at that index"},
    409: {"description": "Not allowed in the question's current state (nothing changed)"},
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
    """Create a poll of draft questions: `{question, options}` for one single-choice question,
    or `{title?, questions: [...]}` for a run. The host token is returned only here: keep it."""
    run, token = await service.create_poll(ctx, session, body, caller)
    now = utcnow()
    return PollCreated(
        id=run.poll.id,
        room_code=run.poll.room_code,
        host_token=token,
        join_url=ctx.settings.join_url(run.poll.room_code),
        poll=poll_public(run, now),
        questions=questions_host(run, now),
    )


@router.get("/{room_code}", response_model=PollPublic, responses=NOT_FOUND)
async def get_poll(room_code: RoomCodeDep, ctx: ContextDep, reads: ReadSessionDep) -> PollPublic:
    """The public view of a poll (the current question's results once revealed). Also
    refreshes the Redis cache."""
    run, tallies, participants = await service.public_poll(ctx, reads, room_code)
    now = utcnow()
    results = poll_results(run, tallies, now) if tallies is not None else None
    return poll_public(run, now, participant_count=participants, results=results)


# Each host action is its own operation (`POST /{room_code}/open`, ...), with its description.
HOST_ACTIONS: dict[HostAction, str] = {
    "open": "Start accepting answers (from draft, or again after closing); with a time limit, "
    "it closes itself at `closes_at`.",
    "close": "Stop accepting answers. Once this returns, no further answer is accepted.",
    "reveal": "Make the results public (in any status).",
    "reset": "Discard all answers (a new epoch) and return to draft, unrevealed.",
}


def _add_host_action(action: HostAction, description: str) -> None:
    async def run_action(
        room_code: RoomCodeDep, ctx: ContextDep, session: SessionDep, caller: CallerDep
    ) -> PollPublic:
        change = host_actions.act(action)
        run = await service.change_poll(ctx, session, room_code, caller, action, change)
        return poll_public(run, utcnow())

    run_action.__doc__ = f"The current question: {description}"
    router.add_api_route(
        f"/{{room_code}}/{action}",
        run_action,
        methods=["POST"],
        name=f"{action}_poll",
        response_model=PollPublic,
        responses=HOST_ERRORS,
    )


for _action, _description in HOST_ACTIONS.items():
    _add_host_action(_action, _description)
