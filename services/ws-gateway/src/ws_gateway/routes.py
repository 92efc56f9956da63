"""The HTTP phase of every request on the WebSocket port.

A `/ws/...` path is a WebSocket handshake: `admission` refuses it or lets it carry on. Anything
else is plain HTTP: health, metrics, the participant page (`pages`), 404 otherwise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from ws_gateway.admission import WS_PATH_PREFIX, Admission
from ws_gateway.context import GatewayContext
from ws_gateway.pages import serve_page
from ws_gateway.responses import json_response, make_response
from zephyr_runtime.health import run_checks
from zephyr_runtime.metrics import METRICS_CONTENT_TYPE, render_metrics

ProcessRequest = Callable[[ServerConnection, Request], Awaitable[Response | None]]


def make_process_request(ctx: GatewayContext, admission: Admission) -> ProcessRequest:
    async def process_request(connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path.startswith(WS_PATH_PREFIX):
            return await admission.check_handshake(connection, request, draining=ctx.draining)
        if path == "/health/live":
            return json_response(200, {"status": "ok"})
        if path == "/health/ready":
            ok, checks = await run_checks(ctx.dependency_checks())
            if ok and not ctx.draining:
                return json_response(200, {"status": "ready", "checks": checks})
            return json_response(503, {"status": "unavailable", "checks": checks})
        if path == "/metrics":
            return make_response(200, render_metrics(), METRICS_CONTENT_TYPE)
        page = serve_page(path)
        if page is not None:
            return page
        return json_response(404, {"detail": "not found"})

    return process_request
