"""The gateway's abuse protection, in one place: what the handshake, the connection loop and
the session ask before doing work, and the security events they leave in the audit stream.

- Handshake (`guard_handshake`): the real client IP (X-Forwarded-For only from trusted proxies),
  the Origin allowlist (403 + `security.origin_refused`), connections per IP (per process) and
  handshakes per IP (Redis), both 429 + Retry-After.
- Connection (`guard_connection`, `admit_frame`): exact per-IP connection count, per-connection
  frame rate in memory; a connection that floods on is closed with 1008.
- Session (`check_join`, `check_vote`): joins per IP and per poll, votes per participant and
  per IP, in Redis (shared by every replica, so reconnecting elsewhere does not reset them).
- `note_error`: every error frame that signals bad input or a limit becomes a sampled
  `security.invalid_input` / `security.rate_limited` event (zephyr_runtime.security_events).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit
from uuid import UUID

import redis.asyncio as aioredis
from websockets.asyncio.server import ServerConnection
from websockets.frames import CloseCode
from websockets.http11 import Request, Response

from contracts import AuditBatch, AuditEvent
from contracts.frames import ErrorCode
from contracts.topology import AUDIT_EXCHANGE, audit_routing_key
from ws_gateway.http import WS_PATH_PREFIX, json_response
from ws_gateway.origin import OriginPolicy, normalize_origin
from ws_gateway.ratelimit import LocalRate
from ws_gateway.security_config import GatewaySecuritySettings
from ws_gateway.wire import error_frame, send
from zephyr_runtime.amqp import ConfirmedPublisher
from zephyr_runtime.client_ip import real_client_ip
from zephyr_runtime.ratelimit import Check, Decision, RateLimiter
from zephyr_runtime.security_events import SecurityEvents

log = logging.getLogger(__name__)

SERVICE = "ws-gateway"
CLOSE_POLICY = CloseCode.POLICY_VIOLATION  # 1008
CLOSE_TRY_AGAIN = CloseCode.TRY_AGAIN_LATER  # 1013
MAX_BLOCKED = 100_000
INVALID_INPUT_CODES = frozenset(
    {"invalid_frame", "invalid_option", "invalid_token", "not_joined", "already_joined"}
)

ProcessRequest = Callable[[ServerConnection, Request], Awaitable[Response | None]]
Handler = Callable[[ServerConnection], Awaitable[None]]
Refusal = tuple[ErrorCode, str, float]  # (code, message, retry_after), as the guard returns


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


class Security:
    def __init__(
        self,
        settings: GatewaySecuritySettings,
        redis: aioredis.Redis,
        publisher: ConfirmedPublisher,
        *,
        poll_api_url: str,
    ) -> None:
        self.settings = settings
        self.limiter = RateLimiter(redis, settings.redis_prefix)
        self._publisher = publisher
        self.origins = OriginPolicy(
            [*settings.origin_allowlist, normalize_origin(poll_api_url)],
            allow_missing=settings.allow_missing_origin,
        )
        self.trusted = settings.trusted_networks
        self.connections: Counter[str] = Counter()
        # (scope, subject) -> monotonic time until which votes are refused locally.
        self._blocked: dict[tuple[str, str], float] = {}
        self.events = SecurityEvents(
            service=SERVICE,
            emit=self._publish,
            window_seconds=settings.security_event_window_seconds,
        )

    async def _publish(self, events: list[AuditEvent]) -> None:
        await self._publisher.publish(
            AuditBatch(events=events),
            exchange=AUDIT_EXCHANGE,
            routing_key=audit_routing_key(SERVICE),
            correlation_id=events[0].correlation_id or str(events[0].event_id),
        )

    def start(self) -> None:
        self.events.start()

    async def stop(self) -> None:
        await self.events.stop()

    # ---- handshake -----------------------------------------------------------------------

    def guard_handshake(self, inner: ProcessRequest) -> ProcessRequest:
        async def process_request(ws: ServerConnection, request: Request) -> Response | None:
            if urlsplit(request.path).path.startswith(WS_PATH_PREFIX):
                peer = ws.remote_address[0] if isinstance(ws.remote_address, tuple) else None
                forwarded = request.headers.get_all("X-Forwarded-For") if self.trusted else []
                ip = real_client_ip(str(peer) if peer else None, forwarded, self.trusted)
                ws.zephyr_client_ip = ip  # type: ignore[attr-defined]
                refused = await self._check_handshake(request, ip)
                if refused is not None:
                    return refused
            return await inner(ws, request)

        return process_request

    async def _check_handshake(self, request: Request, ip: str | None) -> Response | None:
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
            return self._too_many(request, ip, "connections_ip", 5.0)
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

    # ---- connection ----------------------------------------------------------------------

    def guard_connection(self, inner: Handler) -> Handler:
        async def handler(ws: ServerConnection) -> None:
            key = client_ip(ws) or "unknown"
            self.connections[key] += 1
            ws.zephyr_frames = LocalRate(self.settings.rule("frames_connection"))  # type: ignore[attr-defined]
            try:
                if self.connections[key] > self.settings.max_connections_per_ip:
                    # Handshakes racing past the check above: the exact count decides here.
                    self.events.record(
                        "security.rate_limited",
                        reason="connections_ip",
                        client_ip=key,
                        correlation_id=None,
                    )
                    await ws.close(CLOSE_TRY_AGAIN, "too many connections from your address")
                    return
                await inner(ws)
            finally:
                self.connections[key] -= 1
                if self.connections[key] <= 0:
                    del self.connections[key]
                sent = ws.protocol.close_sent
                if sent is not None and sent.code == CloseCode.MESSAGE_TOO_BIG:
                    self.events.record(
                        "security.invalid_input",
                        reason="frame_too_large",
                        client_ip=key,
                        correlation_id=None,
                    )

        return handler

    async def admit_frame(self, ws: ServerConnection) -> bool:
        """False when the frame must be dropped (answered `rate_limited`, or the socket closed)."""
        rate: LocalRate | None = getattr(ws, "zephyr_frames", None)
        if rate is None:
            return True
        wait = rate.allow()
        if wait <= 0:
            return True
        if rate.refused_in_a_row >= self.settings.flood_close_after:
            self.events.record(
                "security.rate_limited",
                reason="flood_closed",
                client_ip=client_ip(ws),
                correlation_id=None,
            )
            await ws.close(CLOSE_POLICY, "too many frames")
            return False
        if rate.refused_in_a_row == 1 or rate.refused_in_a_row % 10 == 0:
            # Answer the first refusal and every tenth: a flood gets a few replies, not one each.
            await send(ws, error_frame("rate_limited", "too many frames; slow down", wait))
        self.events.record(
            "security.rate_limited",
            reason="frames_connection",
            client_ip=client_ip(ws),
            correlation_id=None,
        )
        return False

    # ---- session -------------------------------------------------------------------------

    async def check_join(self, *, client_ip: str | None, poll_id: UUID) -> Refusal | None:
        if not self.settings.rate_limit_enabled:
            return None
        decision = await self.limiter.check(
            [
                Check("join_ip", client_ip or "unknown", self.settings.rule("join_ip")),
                Check("join_room", str(poll_id), self.settings.rule("join_room")),
            ]
        )
        if decision.allowed:
            return None
        return (
            "rate_limited",
            f"too many joins ({decision.scope}); retry later",
            max(decision.retry_after_seconds, 0.001),
        )

    def check_vote(
        self, ws: ServerConnection, *, client_ip: str | None, participant_id: UUID
    ) -> Refusal | None:
        """Vote limits without adding a round trip to the vote path.

        The participant's rule is enforced exactly on this connection, in memory. The vote is
        also counted in Redis in the background (pipelined with every other check of this loop
        turn), where the per-participant and per-IP budgets are shared by every connection and
        replica; when Redis says a limit is reached, the participant (or IP) is blocked here
        until its `retry_after`. So a vote is never delayed by the limiter.
        """
        if not self.settings.rate_limit_enabled:
            return None
        local: LocalRate | None = getattr(ws, "zephyr_votes", None)
        if local is None:
            local = LocalRate(self.settings.rule("vote_participant"))
            ws.zephyr_votes = local  # type: ignore[attr-defined]
        wait = local.allow()
        if wait > 0:
            return "rate_limited", "too many votes (vote_participant); retry later", wait
        now = time.monotonic()
        ip = client_ip or "unknown"
        for scope, subject in (("vote_participant", str(participant_id)), ("vote_ip", ip)):
            until = self._blocked.get((scope, subject))
            if until is None:
                continue
            if until > now:
                return "rate_limited", f"too many votes ({scope}); retry later", until - now
            del self._blocked[(scope, subject)]
        checks = [
            Check("vote_participant", str(participant_id), self.settings.rule("vote_participant")),
            Check("vote_ip", ip, self.settings.rule("vote_ip")),
        ]

        def on_decision(decision: Decision) -> None:
            if not decision.allowed:
                if len(self._blocked) > MAX_BLOCKED:
                    self._purge_blocked()
                subject = str(participant_id) if decision.scope == "vote_participant" else ip
                deadline = time.monotonic() + decision.retry_after_seconds
                self._blocked[(decision.scope, subject)] = deadline

        self.limiter.submit(checks, on_decision)
        return None

    def _purge_blocked(self) -> None:
        now = time.monotonic()
        for key in [k for k, until in self._blocked.items() if until <= now]:
            del self._blocked[key]

    def note_error(
        self,
        code: str,
        message: str,
        *,
        client_ip: str | None,
        correlation_id: str | None,
        poll_id: UUID,
        participant_id: UUID | None,
    ) -> None:
        """Turn an error frame about bad input or a limit into a (sampled) security event."""
        if code in INVALID_INPUT_CODES:
            kind = "security.invalid_input"
        elif code == "rate_limited":
            kind = "security.rate_limited"
        else:
            return
        self.events.record(
            kind,
            reason=code if kind == "security.invalid_input" else message.split(";")[0][:60],
            client_ip=client_ip,
            correlation_id=correlation_id,
            poll_id=poll_id,
            participant_id=participant_id,
            data={"message": message[:200]},
        )
