"""The whole poll for its host: delete it (everywhere), duplicate it (poll_api.deletion)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from contracts import utcnow
from poll_api import deletion
from poll_api.api.deps import CallerDep, ContextDep, RoomCodeDep, SessionDep
from poll_api.models import PollCreated
from poll_api.views import poll_public, questions_host

router = APIRouter(prefix="/api/polls", tags=["polls"])

_HOST: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or malformed Authorization: Bearer <host_token>"},
    403: {"description": "Wrong host token, or another account's poll"},
    404: {"description": "Unknown room code"},
}


@router.delete("/{room_code}", status_code=status.HTTP_204_NO_CONTENT, responses=_HOST)
async def delete_poll(
    room_code: RoomCodeDep, ctx: ContextDep, session: SessionDep, caller: CallerDep
) -> None:
    """Delete the poll, its questions, answers, participants and results in every service;
    the audit log keeps only the deletion record (`poll.deleted`). Cannot be undone."""
    await deletion.delete_poll(ctx, session, room_code, caller)


@router.post(
    "/{room_code}/duplicate",
    status_code=status.HTTP_201_CREATED,
    response_model=PollCreated,
    responses=_HOST,
)
async def duplicate_poll(
    room_code: RoomCodeDep, ctx: ContextDep, session: SessionDep, caller: CallerDep
) -> PollCreated:
    """A new draft poll with the same title, settings and questions, none of the answers; its
    own room code and host token (shown once)."""
    run, token = await deletion.duplicate_poll(ctx, session, room_code, caller)
    now = utcnow()
    return PollCreated(
        id=run.poll.id,
        room_code=run.poll.room_code,
        host_token=token,
        join_url=ctx.settings.join_url(run.poll.room_code),
        poll=poll_public(run, now),
        questions=questions_host(run, now),
    )
