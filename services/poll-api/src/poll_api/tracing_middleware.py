"""A server span per HTTP request, continuing the caller's W3C trace context if it sent one.

Everything the request writes into the outbox carries this span's context, so the consumers'
spans join the request's trace.
"""

from __future__ import annotations

from opentelemetry.trace import Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from poll_api.middleware import route_template
from zephyr_runtime import tracing


class TracingMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]
        }
        method = scope.get("method", "")
        status_code = 500

        async def send_and_watch(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        with tracing.span(
            f"{method} request",
            parent_headers=headers,
            kind=tracing.SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": scope.get("path", "")},
        ) as span:
            try:
                await self.app(scope, receive, send_and_watch)
            finally:
                # The route is known only after routing: name the span by its template.
                span.update_name(f"{method} {route_template(scope)}")
                span.set_attribute("http.response.status_code", status_code)
                if status_code >= 500:
                    span.set_status(Status(StatusCode.ERROR))
