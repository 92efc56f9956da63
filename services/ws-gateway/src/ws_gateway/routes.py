"""Plain HTTP on the WebSocket port: health, metrics, the participant page, 404 otherwise."""

from __future__ import annotations

import email.utils
import http
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from ws_gateway.context import GatewayContext
from ws_gateway.pages import serve_page
from zephyr_runtime.health import run_checks
from zephyr_runtime.metrics import METRICS_CONTENT_TYPE, render_metrics

WS_PATH_PREFIX = "/ws/"

ProcessRequest = Callable[[ServerConnection, Request], Awaitable[Response | None]]


def make_response(status: int, body: bytes, content_type: str) -> Response:
    code = http.HTTPStatus(status)
    headers = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),
            ("Content-Length", str(len(body))),
            ("Content-Type", content_type),
            ("Cache-Control", "no-store"),
        ]
    )
    return Response(code.value, code.phrase, headers, body)


def json_response(status: int, payload: object) -> Response:
    return make_response(status, orjson.dumps(payload), "application/json")


def make_process_request(ctx: GatewayContext) -> ProcessRequest:
    async def check_redis() -> None:
        await ctx.redis.ping()

    async def process_request(connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path.startswith(WS_PATH_PREFIX):
            if ctx.draining:
                return json_response(503, {"detail": "the gateway is restarting"})
            # `server.connections` builds a set of every open connection per call: O(n) per
            # handshake, O(n²) to fill a gateway (half its CPU at 10,000). `all_connections`
            # is the live set (it includes this one and others mid-handshake): O(1).
            if len(connection.server.all_connections) - 1 >= ctx.settings.max_connections:
                return json_response(503, {"detail": "too many connections"})
            return None  # carry on with the WebSocket handshake
        if path == "/health/live":
            return json_response(200, {"status": "ok"})
        if path == "/health/ready":
            ok, checks = await run_checks({"redis": check_redis, "rabbitmq": ctx.live.check})
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
