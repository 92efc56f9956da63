"""`GET /api/polls/{room_code}/host-check`: does this bearer control this poll?

ws-gateway has no Postgres: it asks here when a host opens its live socket
(`/ws/{room_code}/host`) and again every so often while the socket lives, so a revoked host
link or an expired access token loses the socket too. The check is `service.authorize`, the
same as every host route: the host token, the owning account's access token, or a live host
link. A stranger gets 401/403 (audited), never anything about the poll.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from poll_api import service
from poll_api.api.deps import CallerDep, RoomCodeDep, SessionDep

router = APIRouter(prefix="/api/polls", tags=["polls"])

_HOST: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or malformed Authorization: Bearer <host_token>"},
    403: {"description": "Wrong host token, another account's poll, or a revoked host link"},
    404: {"description": "Unknown room code"},
}


class HostCheck(BaseModel):
    poll_id: uuid.UUID
    room_code: str


@router.get("/{room_code}/host-check", response_model=HostCheck, responses=_HOST)
async def host_check(room_code: RoomCodeDep, session: SessionDep, caller: CallerDep) -> HostCheck:
    """200 when the bearer may act as this poll's host now (nothing is changed)."""
    run = await service.host_run(session, room_code, caller, "host_check")
    return HostCheck(poll_id=run.poll.id, room_code=run.poll.room_code)
