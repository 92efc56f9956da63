"""Request bodies larger than `max_body_bytes` are refused with 413 before they are parsed.

A declared `Content-Length` over the limit is refused at once; a chunked body is counted as it
streams and refused as soon as it passes the limit (nothing more of it is read).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from poll_api.asgi import HttpMiddleware, WatchedSend
from poll_api.errors import error_response


class BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware(HttpMiddleware):
    def __init__(
        self, app: ASGIApp, max_bytes: int, on_refused: Callable[[Scope], None] | None = None
    ) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes
        self.on_refused = on_refused

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.on_refused is not None:
            self.on_refused(scope)
        response = error_response(413, f"request body larger than {self.max_bytes} bytes")
        response.headers["Connection"] = "close"
        await response(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_bytes
            except ValueError:
                too_large = False  # the server refuses a malformed length itself
            if too_large:
                await self._refuse(scope, receive, send)
                return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        watched = WatchedSend(send)
        try:
            await self.app(scope, counting_receive, watched)
        except BodyTooLarge:
            if watched.started:
                raise
            await self._refuse(scope, receive, send)
