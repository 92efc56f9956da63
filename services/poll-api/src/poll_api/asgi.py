"""What poll-api's ASGI middlewares share: HTTP-only dispatch, and watching a response start.

The middlewares are plain ASGI (not BaseHTTPMiddleware) so that context variables such as the
correlation id are set around the whole request and nothing buffers the body.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HttpMiddleware:
    """A middleware that acts on HTTP requests only; lifespan and WebSocket scopes pass by."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class WatchedSend:
    """`send`, remembering the response status; `on_start` may add headers to the start."""

    def __init__(
        self, send: Send, on_start: Callable[[MutableHeaders], None] | None = None
    ) -> None:
        self._send = send
        self._on_start = on_start
        self.status: int | None = None

    @property
    def started(self) -> bool:
        return self.status is not None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            if self._on_start is not None:
                self._on_start(MutableHeaders(scope=message))
        await self._send(message)
