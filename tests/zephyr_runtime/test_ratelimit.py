"""zephyr_runtime.ratelimit: rate rules and GCRA in the real Redis, one round trip, failing open."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis

from tests.support.isolation import Resources
from zephyr_runtime.ratelimit import Check, RateLimiter, RateRule


def test_rate_rules_parse() -> None:
    assert RateRule.parse("100/10s") == RateRule(100, 10.0)
    assert RateRule.parse("60/1m") == RateRule(60, 60.0)
    assert RateRule.parse("5/s") == RateRule(5, 1.0)
    for bad in ("100", "0/1s", "5/10x", "a/1s"):
        with pytest.raises(ValueError, match=r"rate|limit|invalid"):
            RateRule.parse(bad)


async def test_gcra_allows_a_burst_then_refuses_without_consuming(
    redis_client: aioredis.Redis, resources: Resources
) -> None:
    limiter = RateLimiter(redis_client, f"{resources.redis_prefix}:{uuid.uuid4().hex}")
    rule = RateRule(3, 60)
    decisions = [await limiter.check([Check("t", "ip", rule)]) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    assert 0 < decisions[3].retry_after_seconds <= 20.5  # one slot frees every 20 s
    # Two rules: a refusal by one consumes nothing of the other.
    wide = RateRule(100, 60)
    both = await limiter.check([Check("wide", "ip", wide), Check("t", "ip", rule)])
    assert not both.allowed and both.scope == "t"
    alone = await limiter.check([Check("wide", "ip", wide)])
    assert alone.remaining == 99  # untouched by the refused request
    # Another subject has its own budget.
    assert (await limiter.check([Check("t", "other", rule)])).allowed


async def test_many_concurrent_checks_share_one_round_trip(
    redis_client: aioredis.Redis, resources: Resources
) -> None:
    limiter = RateLimiter(redis_client, f"{resources.redis_prefix}:{uuid.uuid4().hex}")
    rule = RateRule(50, 60)
    results = await asyncio.gather(*(limiter.check([Check("c", "ip", rule)]) for _ in range(80)))
    assert sum(r.allowed for r in results) == 50


async def test_a_dead_redis_fails_open() -> None:
    dead = aioredis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.5)
    try:
        decision = await RateLimiter(dead, "x").check([Check("t", "ip", RateRule(1, 60))])
    finally:
        await dead.aclose()
    assert decision.allowed and decision.degraded
