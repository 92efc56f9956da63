"""The life of one WebSocket connection: find the poll, then read frames until it ends."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import unquote, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from ws_gateway import metrics
from ws_gateway.admission import WS_PATH_PREFIX, client_ip
from ws_gateway.context import GatewayContext
from ws_gateway.host_session import serve_host
from ws_gateway.rooms import PollUnavailable, UnknownPoll
from ws_gateway.session import Session
from ws_gateway.wire import error_frame, send
from zephyr_runtime.jsonlog import correlation_id_var

log = logging.getLogger(__name__)

CLOSE_UNKNOWN_POLL = 4404
HOST_SUFFIX = "/host"  # /ws/{room_code}/host: a host's live connection (ws_gateway.host_session)
LOOKUP_RETRY_AFTER = 2.0
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def correlation_id_of(ws: ServerConnection) -> str:
    """The client's X-Request-ID when it is sane, else a new one."""
    given = ws.request.headers.get("X-Request-ID", "") if ws.request else ""
    return given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def make_handler(ctx: GatewayContext) -> Callable[[ServerConnection], Awaitable[None]]:
    async def handler(ws: ServerConnection) -> None:
        metrics.CONNECTIONS.inc()
        metrics.CONNECTIONS_TOTAL.inc()
        try:
            await serve_connection(ctx, ws)
        except ConnectionClosed:
            pass
        finally:
            metrics.CONNECTIONS.dec()

    return handler


async def serve_connection(ctx: GatewayContext, ws: ServerConnection) -> None:
    assert ws.request is not None
    room_code = unquote(urlsplit(ws.request.path).path[len(WS_PATH_PREFIX) :])
    as_host = room_code.endswith(HOST_SUFFIX)
    if as_host:
        room_code = room_code[: -len(HOST_SUFFIX)]
    correlation_id = correlation_id_of(ws)
    # Each connection runs in its own task: every log line of this connection carries the id.
    correlation_id_var.set(correlation_id)
    try:
        entry = await ctx.rooms.lookup(room_code, correlation_id)
    except UnknownPoll:
        await send(ws, error_frame("unknown_poll", "no poll has this room code"))
        await ws.close(CLOSE_UNKNOWN_POLL, "unknown poll")
        return
    except PollUnavailable as exc:
        log.warning("room lookup failed", extra={"room": room_code, "error": str(exc)})
        await send(ws, error_frame("unavailable", "cannot reach the poll now", LOOKUP_RETRY_AFTER))
        await ws.close(CloseCode.TRY_AGAIN_LATER, "try again later")
        return
    if as_host:
        await serve_host(ctx, ws, entry, correlation_id)
        return
    ip = client_ip(ws)
    session = Session(ctx, ws, entry, correlation_id=correlation_id, client_ip=ip)
    frames = ctx.limits.frame_rate()
    idle = ctx.idle  # closes the connection after idle_timeout_seconds without a frame
    idle.touch(ws)
    try:
        while True:
            message = await ws.recv()
            idle.touch(ws)
            if not await ctx.limits.admit_frame(ws, frames, ip):
                continue  # over the connection's frame rate: answered (or closed) already
            try:
                await session.handle(message)
            except ConnectionClosed:
                raise
            except Exception:
                # A bug must not end the connection or leak a stack trace to the client.
                log.exception("frame handling failed")
                await send(ws, error_frame("unavailable", "internal error; retry", 1.0))
    finally:
        idle.forget(ws)
        await session.close()
