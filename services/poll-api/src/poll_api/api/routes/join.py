"""How participants reach a poll: its join link, and the link as a QR code for a screen."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel

from poll_api import crud
from poll_api.api.deps import ContextDep, ReadSessionDep, RoomCodeDep
from poll_api.errors import PollNotFound
from poll_api.qr import qr_svg

router = APIRouter(prefix="/api/polls", tags=["join"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown room code, or no public join URL is configured"},
}


class JoinLink(BaseModel):
    room_code: str
    join_url: str


async def _join_url(room_code: str, ctx: ContextDep, reads: ReadSessionDep) -> str:
    await reads.run(lambda s: crud.get_poll(s, room_code))  # 404 for an unknown room
    url = ctx.settings.join_url(room_code)
    if url is None:
        raise PollNotFound(room_code)
    return url


@router.get("/{room_code}/join", response_model=JoinLink, responses=_ERRORS)
async def get_join_link(room_code: RoomCodeDep, ctx: ContextDep, reads: ReadSessionDep) -> JoinLink:
    """The participant page's link for this poll (`public_base_url` + `/join/{room_code}`)."""
    return JoinLink(room_code=room_code, join_url=await _join_url(room_code, ctx, reads))


@router.get(
    "/{room_code}/qr.svg",
    response_class=Response,
    responses={**_ERRORS, 200: {"content": {"image/svg+xml": {}}, "description": "QR code"}},
)
async def get_join_qr(room_code: RoomCodeDep, ctx: ContextDep, reads: ReadSessionDep) -> Response:
    """The join link as an SVG QR code, to show on a projector."""
    url = await _join_url(room_code, ctx, reads)
    return Response(
        content=qr_svg(url),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )
