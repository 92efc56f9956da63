"""Who may open a WebSocket: the checks of the handshake and of the connection's first moment.

- Handshake (`check_handshake`, for `/ws/...` paths): the real client IP (X-Forwarded-For only
  from trusted proxies), the Origin allowlist (403 + `security.origin_refused`), connections
  per IP (per process) and handshakes per IP (Redis), both 429 + Retry-After; then 503 while
  the gateway drains or is full.
- Connection (`guard_connection`): the exact per-IP connection count (handshakes may race past
  the check above), and the `security.invalid_input` event of a frame too large (1009).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable

from websockets.asyncio.server import ServerConnection
from websockets.frames import CloseCode
from websockets.http11 import Request, Response

from ws_gateway.origin import OriginPolicy, normalize_origin
from ws_gateway.responses import json_response
from ws_gateway.settings import Settings
from zephyr_runtime.client_ip import real_client_ip
from zephyr_runtime.ratelimit import Check, RateLimiter
from zephyr_runtime.security_events import SecurityEvents

WS_PATH_PREFIX = "/ws/"
CONNECTIONS_RETRY_AFTER = 5.0

Handler = Callable[[ServerConnection], Awaitable[None]]


def client_ip(ws: ServerConnection) -> str | None:
    """The real client IP found at the handshake (the peer address if none was stored)."""
    stored = getattr(ws, "zephyr_client_ip", None)
    if stored is not None:
        return str(stored)
    address = ws.remote_address
    return str(address[0])[:64] if isinstance(address, tuple) and address else None


def _correlation_id(request: Request) -> str | None:
    value = request.headers.get("X-Request-ID")
    return value[:128] if value else None


class Admission:
    def __init__(self, settings: Settings, limiter: RateLimiter, events: SecurityEvents) -> None:
        """`limiter` is the process's one RateLimiter (shared with `Limits`), so handshake,
        join and vote checks of one loop turn go to Redis in one pipeline."""
        self.settings = settings
        self.limiter = limiter
        self.events = events
        self.origins = OriginPolicy(
            [*settings.origin_allowlist, normalize_origin(settings.poll_api_url)],
            allow_missing=settings.allow_missing_origin,
        )
        self.trusted = settings.trusted_networks
        self.connections: Counter[str] = Counter()

    async def check_handshake(
        self, ws: ServerConnection, request: Request, *, draining: bool
    ) -> Response | None:
        """The refusal of a WebSocket handshake, or None to carry on with it."""
        peer = ws.remote_address[0] if isinstance(ws.remote_address, tuple) else None
        forwarded = request.headers.get_all("X-Forwarded-For") if self.trusted else []
        ip = real_client_ip(str(peer) if peer else None, forwarded, self.trusted)
        ws.zephyr_client_ip = ip  # type: ignore[attr-defined]  # read by client_ip()
        refused = await self._check_client(request, ip)
        if refused is not None:
            return refused
        if draining:
            return json_response(503, {"detail": "the gateway is restarting"})
        # `server.connections` builds a set of every open connection per call: O(n) per
        # handshake, O(n²) to fill a gateway (half its CPU at 10,000). `all_connections` is the
        # live set (it includes this one and others mid-handshake): O(1).
        if len(ws.server.all_connections) - 1 >= self.settings.max_connections:
            return json_response(503, {"detail": "too many connections"})
        return None

    async def _check_client(self, request: Request, ip: str | None) -> Response | None:
        origin = request.headers.get("Origin")
        if not self.origins.allows(origin, request.headers.get("Host")):
            self.events.record(
                "security.origin_refused",
                reason="origin",
                client_ip=ip,
                correlation_id=_correlation_id(request),
                data={"origin": (origin or "")[:200], "path": request.path[:100]},
            )
            return json_response(403, {"detail": "this origin may not open a WebSocket here"})
        key = ip or "unknown"
        if self.connections[key] >= self.settings.max_connections_per_ip:
            return self._too_many(request, ip, "connections_ip", CONNECTIONS_RETRY_AFTER)
        if self.settings.rate_limit_enabled:
            decision = await self.limiter.check(
                [Check("connect_ip", key, self.settings.rule("connect_ip"))]
            )
            if not decision.allowed:
                return self._too_many(request, ip, "connect_ip", decision.retry_after_seconds)
        return None

    def _too_many(
        self, request: Request, ip: str | None, scope: str, retry_after: float
    ) -> Response:
        self.events.record(
            "security.rate_limited",
            reason=scope,
            client_ip=ip,
            correlation_id=_correlation_id(request),
            data={"path": request.path[:100]},
        )
        response = json_response(429, {"detail": "too many connections; retry later"})
        response.headers["Retry-After"] = str(max(1, round(retry_after + 0.5)))
        return response

    def guard_connection(self, inner: Handler) -> Handler:
        """`inner` for each connection, counted against its IP while it lives."""

        async def handler(ws: ServerConnection) -> None:
            key = client_ip(ws) or "unknown"
            self.connections[key] += 1
            try:
                if self.connections[key] > self.settings.max_connections_per_ip:
                    # Handshakes racing past the check above: the exact count decides here.
                    self._connection_event("security.rate_limited", "connections_ip", key)
                    await ws.close(
                        CloseCode.TRY_AGAIN_LATER, "too many connections from your address"
                    )
                    return
                await inner(ws)
            finally:
                self.connections[key] -= 1
                if self.connections[key] <= 0:
                    del self.connections[key]
                sent = ws.protocol.close_sent
                if sent is not None and sent.code == CloseCode.MESSAGE_TOO_BIG:
                    self._connection_event("security.invalid_input", "frame_too_large", key)

        return handler

    def _connection_event(self, kind: str, reason: str, ip: str) -> None:
        self.events.record(kind, reason=reason, client_ip=ip, correlation_id=None)
