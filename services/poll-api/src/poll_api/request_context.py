"""Around every request: its trace span, its X-Request-ID (the correlation id of its logs and
error bodies), its metrics, and the last-resort 500 for an unhandled exception.

Everything the request writes into the outbox carries its span's context, so the consumers'
spans join the request's trace.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from opentelemetry.trace import Status, StatusCode
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import Receive, Scope, Send

from poll_api.asgi import HttpMiddleware, WatchedSend
from poll_api.errors import internal_error_response
from poll_api.metrics import HTTP_LATENCY, HTTP_REQUESTS
from zephyr_runtime import tracing
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


class RequestContextMiddleware(HttpMiddleware):
    """X-Request-ID in and out, the correlation id for logs, HTTP metrics, last-resort 500s."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = request_id_from(Headers(scope=scope))
        token = correlation_id_var.set(request_id)
        started = time.perf_counter()

        def add_request_id(headers: MutableHeaders) -> None:
            headers[REQUEST_ID_HEADER] = request_id

        watched = WatchedSend(send, add_request_id)
        try:
            await self.app(scope, receive, watched)
        except Exception:
            log.exception(
                "unhandled error", extra={"path": scope.get("path"), "method": scope.get("method")}
            )
            if watched.started:
                raise  # too late to answer cleanly; the server closes the connection
            await internal_error_response()(scope, receive, watched)
        finally:
            labels = {
                "route": route_template(scope),
                "method": scope.get("method", ""),
                "status": f"{(watched.status or 500) // 100}xx",
            }
            HTTP_REQUESTS.labels(**labels).inc()
            HTTP_LATENCY.labels(**labels).observe(time.perf_counter() - started)
            correlation_id_var.reset(token)


class TracingMiddleware(HttpMiddleware):
    """A server span per request, continuing the caller's W3C trace context if it sent one."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]
        }
        method = scope.get("method", "")
        watched = WatchedSend(send)
        with tracing.span(
            f"{method} request",
            parent_headers=headers,
            kind=tracing.SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": scope.get("path", "")},
        ) as span:
            try:
                await self.app(scope, receive, watched)
            finally:
                status_code = watched.status or 500
                # The route is known only after routing: name the span by its template.
                span.update_name(f"{method} {route_template(scope)}")
                span.set_attribute("http.response.status_code", status_code)
                if status_code >= 500:
                    span.set_status(Status(StatusCode.ERROR))
