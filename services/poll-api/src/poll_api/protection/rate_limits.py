"""HTTP rate limits: each request is classified, checked in Redis, and answered 429 if over.

Rules (settings `rate_limit_*`): every request from one IP (`ip`); creating polls per IP
(`create_ip`); reading a poll, its questions, its results or its leaderboard per IP
(`read_ip`); sign-in, sign-up and password changes per IP (`login_ip`; per e-mail in the
route, `login_account`); host actions (every write under a room code: open/close/reveal/reset,
the run of questions, words, Q&A moderation, host links, duplicate, delete) per IP
(`host_action_ip`) and per room (`host_action_room`). Health and metrics are never limited.
Allowed answers carry `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` of the
tightest rule; a 429 adds `Retry-After` and records a sampled `security.rate_limited` event.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Receive, Scope, Send

from contracts.polls import normalize_room_code
from poll_api.asgi import HttpMiddleware, WatchedSend
from poll_api.errors import error_response
from poll_api.protection.client_ip import client_ip_of
from poll_api.settings import Settings
from zephyr_runtime.ratelimit import Check, Decision, RateLimiter

# Every write under a room code is a host's (participants write through the gateway): the
# actions, the run of questions, words, Q&A moderation, host links, claim, duplicate, delete.
_HOST_ACTION = re.compile(r"^/api/polls/([^/]+)(?:/.*)?$")
_DUPLICATE = re.compile(r"^/api/polls/[^/]+/duplicate/?$")
_READ = re.compile(
    r"^/api/polls/([^/]+)(/(?:results|leaderboard)(\.csv)?|/questions(/[^/]+/results)?)?/?$"
)
_UNLIMITED = ("/health/", "/metrics")
# Password checks: per IP here, per account in the route (poll_api.api.routes.auth).
_ACCOUNT_ATTEMPTS = ("/api/auth/login", "/api/auth/signup", "/api/auth/password")


def classify(settings: Settings, method: str, path: str, ip: str) -> list[Check]:
    """The rate-limit checks a request must pass."""
    if path.startswith(_UNLIMITED):
        return []
    checks = [Check("ip", ip, settings.rule("ip"))]
    if method == "POST" and path.rstrip("/") == "/api/polls":
        checks.append(Check("create_ip", ip, settings.rule("create_ip")))
    elif method == "POST" and path.rstrip("/") in _ACCOUNT_ATTEMPTS:
        checks.append(Check("login_ip", ip, settings.rule("login_ip")))
    elif method in ("POST", "PATCH", "DELETE") and (match := _HOST_ACTION.match(path)):
        if _DUPLICATE.match(path):  # makes a poll: the creation budget too
            checks.append(Check("create_ip", ip, settings.rule("create_ip")))
        checks.append(Check("host_action_ip", ip, settings.rule("host_action_ip")))
        # Every malformed code shares one budget: inventing codes buys no fresh limits.
        room = normalize_room_code(match.group(1)) or "invalid"
        checks.append(Check("host_action_room", room, settings.rule("host_action_room")))
    elif method in ("GET", "HEAD") and _READ.match(path):
        checks.append(Check("read_ip", ip, settings.rule("read_ip")))
    return checks


def rate_headers(decision: Decision) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(max(0, decision.remaining)),
        "RateLimit-Reset": str(max(0, round(decision.reset_seconds))),
    }


OnLimited = Callable[[Scope, Decision], None]


class RateLimitMiddleware(HttpMiddleware):
    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        limiter: Callable[[], RateLimiter | None],
        on_limited: OnLimited,
    ) -> None:
        super().__init__(app)
        self.settings = settings
        self.limiter = limiter  # None until the lifespan has opened Redis
        self.on_limited = on_limited

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        limiter = self.limiter()
        if limiter is None or not self.settings.rate_limit_enabled:
            await self.app(scope, receive, send)
            return
        ip = client_ip_of(scope) or "unknown"
        checks = classify(self.settings, scope["method"], str(scope.get("path", "")), ip)
        if not checks:
            await self.app(scope, receive, send)
            return
        decision = await limiter.check(checks)
        if not decision.allowed:
            self.on_limited(scope, decision)
            headers = {**rate_headers(decision), "Retry-After": decision.retry_after_header}
            response = error_response(
                429, f"too many requests; retry in {decision.retry_after_header} s", headers
            )
            await response(scope, receive, send)
            return
        if decision.degraded:
            await self.app(scope, receive, send)
            return
        extra = rate_headers(decision)

        def add_rate_headers(headers: MutableHeaders) -> None:
            for name, value in extra.items():
                headers[name] = value

        await self.app(scope, receive, WatchedSend(send, add_rate_headers))
