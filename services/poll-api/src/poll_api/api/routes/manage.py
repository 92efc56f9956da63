"""The whole poll for its host: delete it (everywhere), duplicate it (poll_api.deletion), and
the host links that open its console on another device (poll_api.host_links)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import utcnow
from contracts.text import check_plain_text
from poll_api import crud, deletion, host_links, service
from poll_api.api.deps import CallerDep, ContextDep, HostAccountDep, RoomCodeDep, SessionDep
from poll_api.models import Poll, PollCreated
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
    room_code: RoomCodeDep,
    ctx: ContextDep,
    session: SessionDep,
    caller: CallerDep,
    _host_account: HostAccountDep,
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


class HostLinkCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str | None = Field(default=None, max_length=80, examples=["my phone"])

    @field_validator("label")
    @classmethod
    def _plain(cls, value: str | None) -> str | None:
        value = value.strip() if value else None
        return check_plain_text(value) if value else None


class HostLinkOut(BaseModel):
    id: uuid.UUID
    label: str | None
    created_at: datetime
    revoked_at: datetime | None = None


class HostLinkCreated(HostLinkOut):
    key: str = Field(description="The link's secret, shown once: `Bearer <key>` works too")
    url: str = Field(description="Opens the host console with the key (in the fragment)")


class HostLinks(BaseModel):
    links: list[HostLinkOut]


async def _poll_for_host(
    session: AsyncSession, room_code: str, caller: service.Caller, action: str
) -> Poll:
    async with session.begin():
        poll = await crud.get_poll(session, room_code)
    await service.check_host(session, poll, caller, action, allow_link=False)
    return poll


@router.post(
    "/{room_code}/host-links",
    status_code=status.HTTP_201_CREATED,
    response_model=HostLinkCreated,
    responses={**_HOST, 409: {"description": "Too many live host links: revoke one"}},
)
async def create_host_link(
    room_code: RoomCodeDep,
    body: HostLinkCreate,
    request: Request,
    session: SessionDep,
    caller: CallerDep,
) -> HostLinkCreated:
    """A link that opens this poll's host console on another device; revocable on its own."""
    label = body.label
    poll = await _poll_for_host(session, room_code, caller, "host_link")
    now = utcnow()
    try:
        async with session.begin():
            link_id, key = await host_links.create_link(session, poll.id, label, now)
    except host_links.TooManyLinks as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    url = f"{str(request.base_url).rstrip('/')}/host/{poll.room_code}#key={key}"
    return HostLinkCreated(id=link_id, label=label, created_at=now, key=key, url=url)


@router.get("/{room_code}/host-links", response_model=HostLinks, responses=_HOST)
async def list_host_links(
    room_code: RoomCodeDep, session: SessionDep, caller: CallerDep
) -> HostLinks:
    """The poll's host links (never their keys), revoked ones included."""
    poll = await _poll_for_host(session, room_code, caller, "host_link")
    async with session.begin():
        rows = await host_links.list_links(session, poll.id)
    return HostLinks(links=[HostLinkOut.model_validate(r) for r in rows])


@router.delete(
    "/{room_code}/host-links/{link_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**_HOST, 404: {"description": "Unknown room code, or no such link"}},
)
async def revoke_host_link(
    room_code: RoomCodeDep, link_id: uuid.UUID, session: SessionDep, caller: CallerDep
) -> None:
    """Revoke one host link: its key stops working at once."""
    poll = await _poll_for_host(session, room_code, caller, "host_link")
    async with session.begin():
        found = await host_links.revoke_link(session, poll.id, link_id, utcnow())
    if not found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this poll has no such host link")
