"""Request context: X-Request-ID in and out, correlation id for logs, metrics, last-resort 500s.

A plain ASGI middleware (not BaseHTTPMiddleware) so the correlation id context variable is set
around the whole request and an unhandled exception is answered here, once, without a trace.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from poll_api.errors import internal_error_response
from poll_api.metrics import HTTP_LATENCY, HTTP_REQUESTS
from zephyr_runtime.jsonlog import correlation_id_var

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def request_id_from(headers: Headers) -> str:
    """The caller's X-Request-ID when it is safe to log and echo, else a fresh one."""
    supplied = headers.get(REQUEST_ID_HEADER)
    if supplied is not None and _REQUEST_ID_RE.fullmatch(supplied):
        return supplied
    return uuid.uuid4().hex


def route_template(scope: Scope) -> str:
    """The matched route's path template (bounded label values), not the raw path."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else "unmatched"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(Headers(scope=scope))
        token = correlation_id_var.set(request_id)
        started = time.perf_counter()
        status_code = 500
        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal status_code, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status_code = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception:
            log.exception(
                "unhandled error", extra={"path": scope.get("path"), "method": scope.get("method")}
            )
            if response_started:
                raise  # too late to answer cleanly; the server closes the connection
            await internal_error_response()(scope, receive, send_with_request_id)
        finally:
            labels = {
                "route": route_template(scope),
                "method": scope.get("method", ""),
                "status": f"{status_code // 100}xx",
            }
            HTTP_REQUESTS.labels(**labels).inc()
            HTTP_LATENCY.labels(**labels).observe(time.perf_counter() - started)
            correlation_id_var.reset(token)
