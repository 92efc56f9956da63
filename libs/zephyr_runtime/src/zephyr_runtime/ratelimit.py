"""Rate limits in Redis, shared by every replica: GCRA in one Lua script, checks pipelined.

GCRA (the generic cell rate algorithm) keeps one number per key, the "theoretical arrival time",
so a limit costs one small string in Redis and one script call. A rule "`limit` per `period`"
lets a burst of `limit` through and then one request every `period / limit`. Several rules can be
checked together (per IP *and* per endpoint, say): the request passes only if every rule allows
it, and a refused request consumes nothing, so a flood never eats the budget of the next window.
The clock is Redis `TIME`, so replicas on hosts with skewed clocks still agree.

Checks made in the same event-loop turn go to Redis as one pipeline (one round trip), so a busy
gateway pays one round trip per turn, not one per frame. If Redis fails, the check *allows* the
request (fail open, counted in `zephyr_rate_limit_degraded_total`): availability of voting
matters more than limiting while the cache is down, and the per-connection limits, which live in
memory, still hold.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from prometheus_client import Counter
from redis.exceptions import RedisError

from zephyr_runtime.redis_scripts import Arg, RedisScript, ScriptCall, run_pipelined

log = logging.getLogger(__name__)

RATE_LIMIT_DEGRADED = Counter(
    "zephyr_rate_limit_degraded", "Rate-limit checks allowed without Redis (fail open)"
)

# KEYS: one per rule.  ARGV: period_us_1, limit_1, period_us_2, limit_2, ...
# Returns {allowed, index of the rule that decides, retry_after_us, remaining, reset_us}.
GCRA_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tats = {}
local deny_index, deny_wait = 0, 0
local tight_index, tight_remaining, tight_reset = 1, -1, 0
for i = 1, #KEYS do
  local period = tonumber(ARGV[2 * i - 1])
  local limit = tonumber(ARGV[2 * i])
  local interval = period / limit
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - period
  if allow_at > now then
    if allow_at - now > deny_wait then
      deny_index, deny_wait = i, allow_at - now
    end
  end
  tats[i] = new_tat
  local remaining = math.floor((now - allow_at) / interval)
  if remaining < 0 then remaining = 0 end
  if tight_remaining < 0 or remaining < tight_remaining then
    tight_index, tight_remaining, tight_reset = i, remaining, new_tat - now
  end
end
if deny_index > 0 then
  return {0, deny_index, math.ceil(deny_wait), 0, math.ceil(deny_wait)}
end
for i = 1, #KEYS do
  local ttl = math.ceil((tats[i] - now) / 1000) + 1000
  redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PX', ttl)
end
return {1, tight_index, 0, tight_remaining, math.ceil(tight_reset)}
"""
GCRA_SCRIPT = RedisScript(GCRA_LUA)


@dataclass(frozen=True)
class RateRule:
    """`limit` requests per `period_seconds` (a burst of `limit`, then an even pace)."""

    limit: int
    period_seconds: float

    def __post_init__(self) -> None:
        if self.limit < 1 or self.period_seconds <= 0:
            raise ValueError("a rate rule needs limit >= 1 and period_seconds > 0")

    @classmethod
    def parse(cls, text: str) -> RateRule:
        """`"100/10s"`, `"60/1m"`, `"5/s"`: limit, a slash, an optional count and a unit."""
        limit_text, sep, period_text = text.strip().partition("/")
        if not sep:
            raise ValueError(f"rate {text!r} must look like 100/10s")
        units = {"s": 1.0, "m": 60.0, "h": 3600.0}
        unit = period_text[-1:].lower()
        if unit not in units:
            raise ValueError(f"rate {text!r}: the period ends in s, m or h")
        count = period_text[:-1] or "1"
        return cls(int(limit_text), float(count) * units[unit])

    def __str__(self) -> str:
        return f"{self.limit}/{self.period_seconds:g}s"


@dataclass(frozen=True)
class Check:
    """One rule applied to one subject, e.g. ("join.ip", "203.0.113.7", 1000/10s)."""

    scope: str
    subject: str
    rule: RateRule


@dataclass(frozen=True)
class Decision:
    allowed: bool
    scope: str  # the deciding rule: the one that refused, or the tightest one
    limit: int
    remaining: int
    reset_seconds: float  # until the deciding rule's full burst is available again
    retry_after_seconds: float  # 0 when allowed
    degraded: bool = False  # Redis was unreachable and the request was allowed anyway

    @property
    def retry_after_header(self) -> str:
        """Whole seconds, at least 1 (HTTP Retry-After has no fractions)."""
        return str(max(1, math.ceil(self.retry_after_seconds)))


ALLOW_ALL = Decision(True, "none", 0, 0, 0.0, 0.0)


class RateLimiter:
    """Checks `Check`s against Redis; concurrent calls share one pipeline per loop turn."""

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self._pending: list[tuple[Sequence[Check], Callable[[Decision], None]]] = []
        self._flush_scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    def key(self, scope: str, subject: str) -> str:
        return f"{self._prefix}:rate:{scope}:{subject[:128]}"

    async def check(self, checks: Sequence[Check]) -> Decision:
        """Allowed only if every check allows; a refusal consumes nothing."""
        if not checks:
            return ALLOW_ALL
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()

        def resolve(decision: Decision) -> None:
            if not future.done():
                future.set_result(decision)

        self.submit(checks, resolve)
        return await future

    def submit(self, checks: Sequence[Check], on_decision: Callable[[Decision], None]) -> None:
        """Count `checks` without waiting; `on_decision` gets the result (in this loop)."""
        self._pending.append((checks, on_decision))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._start_flush)

    def _start_flush(self) -> None:
        self._flush_scheduled = False
        batch, self._pending = self._pending, []
        task = asyncio.get_running_loop().create_task(self._flush(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self, batch: list[tuple[Sequence[Check], Callable[[Decision], None]]]) -> None:
        calls: list[ScriptCall] = []
        for checks, _ in batch:
            keys = [self.key(c.scope, c.subject) for c in checks]
            args: list[Arg] = []
            for c in checks:
                args += [int(c.rule.period_seconds * 1_000_000), c.rule.limit]
            calls.append((GCRA_SCRIPT, keys, args))
        results: list[Any]
        try:
            results = await run_pipelined(self._client, calls, raise_on_error=False)
        except (RedisError, OSError) as exc:
            results = [exc] * len(batch)
        for (checks, on_decision), result in zip(batch, results, strict=True):
            try:
                on_decision(_decide(checks, result))
            except Exception:
                log.exception("rate limit callback failed")


def _decide(checks: Sequence[Check], result: object) -> Decision:
    if isinstance(result, BaseException) or not isinstance(result, list) or len(result) != 5:
        RATE_LIMIT_DEGRADED.inc()
        log.warning("rate limit check failed; allowing", extra={"error": repr(result)})
        return Decision(True, checks[0].scope, checks[0].rule.limit, 0, 0.0, 0.0, degraded=True)
    allowed, index, retry_us, remaining, reset_us = (int(v) for v in result)
    deciding = checks[index - 1]
    return Decision(
        allowed=bool(allowed),
        scope=deciding.scope,
        limit=deciding.rule.limit,
        remaining=remaining,
        reset_seconds=reset_us / 1_000_000,
        retry_after_seconds=retry_us / 1_000_000,
    )
