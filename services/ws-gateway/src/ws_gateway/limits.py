"""The rate limits a participant's frames, joins and votes pass, and the events they leave.

- Frames (`admit_frame`): any frame on one connection, in memory (a connection lives in one
  process); a connection that floods on is closed with 1008 after `flood_close_after` refusals
  in a row (answering a flood frame by frame would cost more than it).
- Joins (`check_join`): per IP and per poll, in Redis (shared by every replica, so reconnecting
  elsewhere does not reset them).
- Votes (`check_vote`): per participant exactly on the connection, in memory, and per
  participant and per IP in Redis, counted in the background (no round trip on the vote path).
- `note_error`: every error frame that signals bad input or a limit becomes a sampled
  `security.invalid_input` / `security.rate_limited` event (zephyr_runtime.security_events).
"""

from __future__ import annotations

import time
from uuid import UUID

import redis.asyncio as aioredis
from websockets.asyncio.server import ServerConnection
from websockets.frames import CloseCode

from ws_gateway.settings import Settings
from ws_gateway.wire import Refusal, error_frame, send
from zephyr_runtime.ratelimit import Check, Decision, RateLimiter, RateRule
from zephyr_runtime.security_events import SecurityEvents

MAX_BLOCKED = 100_000
INVALID_INPUT_CODES = frozenset(
    {
        "invalid_frame",
        "invalid_answer",
        "unknown_question",
        "invalid_token",
        "not_joined",
        "already_joined",
    }
)


class LocalRate:
    """One connection's budget in memory: the GCRA of the shared limiter, a burst of `limit`,
    then one per `period / limit`."""

    __slots__ = ("_interval", "_period", "_tat", "refused_in_a_row")

    def __init__(self, rule: RateRule) -> None:
        self._period = rule.period_seconds
        self._interval = rule.period_seconds / rule.limit
        self._tat = 0.0
        self.refused_in_a_row = 0

    def allow(self, now: float | None = None) -> float:
        """0.0 when allowed (and counted), else the seconds to wait."""
        now = time.monotonic() if now is None else now
        tat = max(self._tat, now)
        wait = tat + self._interval - self._period - now
        if wait > 0:
            self.refused_in_a_row += 1
            return wait
        self._tat = tat + self._interval
        self.refused_in_a_row = 0
        return 0.0


class Limits:
    def __init__(self, settings: Settings, redis: aioredis.Redis, events: SecurityEvents) -> None:
        self.settings = settings
        self.limiter = RateLimiter(redis, settings.redis_prefix)
        self.events = events
        self._rules = {
            name: settings.rule(name)
            for name in ("frames_connection", "join_ip", "join_room", "vote_ip", "vote_participant")
        }
        # (scope, subject) -> monotonic time until which votes are refused locally.
        self._blocked: dict[tuple[str, str], float] = {}

    def frame_rate(self) -> LocalRate:
        """A new connection's frame budget."""
        return LocalRate(self._rules["frames_connection"])

    def vote_rate(self) -> LocalRate:
        """A new connection's vote budget (its participant's rule, enforced exactly here)."""
        return LocalRate(self._rules["vote_participant"])

    async def admit_frame(
        self, ws: ServerConnection, rate: LocalRate, client_ip: str | None
    ) -> bool:
        """False when the frame must be dropped (answered `rate_limited`, or the socket closed)."""
        wait = rate.allow()
        if wait <= 0:
            return True
        if rate.refused_in_a_row >= self.settings.flood_close_after:
            self._frame_event("flood_closed", client_ip)
            await ws.close(CloseCode.POLICY_VIOLATION, "too many frames")
            return False
        if rate.refused_in_a_row == 1 or rate.refused_in_a_row % 10 == 0:
            # Answer the first refusal and every tenth: a flood gets a few replies, not one each.
            await send(ws, error_frame("rate_limited", "too many frames; slow down", wait))
        self._frame_event("frames_connection", client_ip)
        return False

    def _frame_event(self, reason: str, client_ip: str | None) -> None:
        self.events.record(
            "security.rate_limited", reason=reason, client_ip=client_ip, correlation_id=None
        )

    async def check_join(self, *, client_ip: str | None, poll_id: UUID) -> Refusal | None:
        if not self.settings.rate_limit_enabled:
            return None
        decision = await self.limiter.check(
            [
                Check("join_ip", client_ip or "unknown", self._rules["join_ip"]),
                Check("join_room", str(poll_id), self._rules["join_room"]),
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
        self, rate: LocalRate, *, client_ip: str | None, participant_id: UUID
    ) -> Refusal | None:
        """Vote limits without adding a round trip to the vote path.

        The participant's rule is enforced exactly on this connection, in memory (`rate`). The
        vote is also counted in Redis in the background (pipelined with every other check of
        this loop turn), where the per-participant and per-IP budgets are shared by every
        connection and replica; when Redis says a limit is reached, the participant (or IP) is
        blocked here until its `retry_after`. So a vote is never delayed by the limiter.
        """
        if not self.settings.rate_limit_enabled:
            return None
        wait = rate.allow()
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
            Check("vote_participant", str(participant_id), self._rules["vote_participant"]),
            Check("vote_ip", ip, self._rules["vote_ip"]),
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
