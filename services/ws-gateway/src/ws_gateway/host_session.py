"""One host connection, `/ws/{room_code}/host`: authenticate, then listen (docs/api.md).

The first frame must be `host {token}` within `host_auth_timeout_seconds`; poll-api decides
(`host_check`). A refused token gets an `error` frame and close 4403; no frame in time, 4401.
Once in, the socket is a listener: `ping` is answered, anything else (join, vote, ask, upvote)
is refused with an error and changes nothing. The token is checked again every
`host_recheck_seconds`: a revoked host link or an expired access token closes the socket.
While poll-api cannot be reached the socket stays (the check is tried again next time).
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from pydantic import ValidationError
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from contracts.frames import PingFrame, PongFrame
from contracts.host import HOST_CLIENT_FRAME_ADAPTER, HostAuthFrame
from ws_gateway.admission import client_ip
from ws_gateway.context import GatewayContext
from ws_gateway.host_check import HostAccepted, HostCheckUnavailable, HostRefused, check_host
from ws_gateway.rooms import PollEntry
from ws_gateway.session import describe_invalid_frame
from ws_gateway.wire import error_frame, send

log = logging.getLogger(__name__)

CLOSE_HOST_AUTH_MISSING = 4401
CLOSE_HOST_REFUSED = 4403
RETRY_AFTER = 2.0


async def _first_frame(ctx: GatewayContext, ws: ServerConnection) -> HostAuthFrame | None:
    """The `host` frame, or None after telling the client why not (and closing)."""
    wait = ctx.settings.host_auth_timeout_seconds
    try:
        async with asyncio.timeout(wait):
            message = await ws.recv()
    except TimeoutError:
        reason = f'send {{"type": "host", "token": ...}} within {wait:g} s'
        await send(ws, error_frame("invalid_token", reason))
        await ws.close(CLOSE_HOST_AUTH_MISSING, "no host frame")
        return None
    try:
        frame = HOST_CLIENT_FRAME_ADAPTER.validate_json(message)
    except ValidationError as exc:
        frame = None
        detail = describe_invalid_frame(exc)
    else:
        detail = 'the first frame must be {"type": "host", "token": ...}'
    if not isinstance(frame, HostAuthFrame):
        await send(ws, error_frame("invalid_frame", detail))
        await ws.close(CLOSE_HOST_AUTH_MISSING, "no host frame")
        return None
    return frame


async def serve_host(
    ctx: GatewayContext, ws: ServerConnection, entry: PollEntry, correlation_id: str
) -> None:
    frame = await _first_frame(ctx, ws)
    if frame is None:
        return
    room_code = entry.view.room_code
    verdict = await check_host(
        ctx.http, ctx.settings.poll_api_url, room_code, frame.token, correlation_id
    )
    if isinstance(verdict, HostCheckUnavailable):
        log.warning("host check failed", extra={"room": room_code, "error": verdict.reason})
        await send(ws, error_frame("unavailable", "cannot check the token now", RETRY_AFTER))
        await ws.close(CloseCode.TRY_AGAIN_LATER, "try again later")
        return
    if isinstance(verdict, HostRefused) or verdict.poll_id != str(entry.view.id):
        reason = verdict.reason if isinstance(verdict, HostRefused) else "not this poll"
        await send(ws, error_frame("invalid_token", f"host token refused: {reason}"))
        await ws.close(CLOSE_HOST_REFUSED, "host token refused")
        return
    poll_id = entry.view.id
    await ctx.live.acquire(poll_id)
    ctx.hosts.add(poll_id, ws)
    recheck = asyncio.create_task(_recheck(ctx, ws, room_code, frame.token))
    try:
        await ctx.hosts.welcome(ws, ctx.rooms.get(poll_id) or entry)
        await _listen(ctx, ws)
    finally:
        recheck.cancel()
        ctx.hosts.remove(poll_id, ws)
        await ctx.live.release(poll_id)


async def _listen(ctx: GatewayContext, ws: ServerConnection) -> None:
    frames = ctx.limits.frame_rate()
    while True:
        message = await ws.recv()
        if not await ctx.limits.admit_frame(ws, frames, client_ip(ws)):
            continue
        try:
            frame = HOST_CLIENT_FRAME_ADAPTER.validate_json(message)
        except ValidationError:
            frame = None
        if isinstance(frame, PingFrame):
            await send(ws, PongFrame())
        elif isinstance(frame, HostAuthFrame):
            await send(ws, error_frame("invalid_frame", "this connection is authenticated"))
        else:
            await send(
                ws,
                error_frame(
                    "invalid_frame",
                    "a host connection only listens: it cannot join, vote, ask or upvote",
                ),
            )


async def _recheck(ctx: GatewayContext, ws: ServerConnection, room_code: str, token: str) -> None:
    """Close the socket once poll-api no longer accepts its token."""
    while True:
        await asyncio.sleep(ctx.settings.host_recheck_seconds)
        verdict = await check_host(
            ctx.http, ctx.settings.poll_api_url, room_code, token, uuid.uuid4().hex
        )
        if isinstance(verdict, HostAccepted):
            continue
        if isinstance(verdict, HostCheckUnavailable):
            log.warning("host re-check failed", extra={"room": room_code, "error": verdict.reason})
            continue
        try:
            await send(ws, error_frame("invalid_token", f"host token refused: {verdict.reason}"))
            await ws.close(CLOSE_HOST_REFUSED, "host token refused")
        except ConnectionClosed:
            pass
        return
