"""The caller's IP, computed once per request and kept in the ASGI scope's state.

Only a trusted proxy's `X-Forwarded-For` is believed (`trusted_proxies`); everyone else is the
peer address. Rate limits, audit events and `Caller.client_ip` all read it from here.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from zephyr_runtime.client_ip import Network, real_client_ip

STATE_KEY = "client_ip"


def client_ip_of(scope: Scope) -> str | None:
    """The IP set by `ClientIpMiddleware` (the peer address if it did not run)."""
    state = scope.get("state") or {}
    if STATE_KEY in state:
        value: str | None = state[STATE_KEY]
        return value
    client = scope.get("client")
    return str(client[0]) if client else None


def request_client_ip(request: Request) -> str | None:
    return client_ip_of(request.scope)


class ClientIpMiddleware:
    def __init__(self, app: ASGIApp, trusted: tuple[Network, ...]) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            peer = str(client[0]) if client else None
            forwarded = Headers(scope=scope).getlist("x-forwarded-for") if self.trusted else []
            scope.setdefault("state", {})[STATE_KEY] = real_client_ip(peer, forwarded, self.trusted)
        await self.app(scope, receive, send)
