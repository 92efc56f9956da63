"""The building blocks on their own: the GCRA limiter on real Redis, the real-IP rule, the HTML
rule (checked against the nh3 sanitiser), event sampling, origins and host keys."""

from __future__ import annotations

import html
import uuid

import nh3
import pytest
import redis.asyncio as aioredis
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import AuditEvent
from contracts.frames import normalize_nickname
from contracts.text import check_plain_text, contains_markup
from poll_api.host_keys import key_matches, parse_host_keys
from tests.support.isolation import Resources
from ws_gateway.origin import OriginPolicy
from zephyr_runtime.client_ip import parse_networks, real_client_ip
from zephyr_runtime.ratelimit import Check, RateLimiter, RateRule
from zephyr_runtime.security_events import SecurityEvents

# ---- rate limiter -----------------------------------------------------------------------------


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
    import asyncio

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


# ---- real client IP ---------------------------------------------------------------------------


def test_forwarded_for_is_used_only_behind_trusted_proxies() -> None:
    proxies = parse_networks(["10.0.0.0/8", "127.0.0.1"])
    assert real_client_ip("203.0.113.5", ["1.2.3.4"], proxies) == "203.0.113.5"
    assert real_client_ip("10.0.0.2", ["1.2.3.4"], proxies) == "1.2.3.4"
    # Spoofed left entries are skipped: the first untrusted hop from the right wins.
    assert real_client_ip("10.0.0.2", ["6.6.6.6, 1.2.3.4, 10.0.0.9"], proxies) == "1.2.3.4"
    assert real_client_ip("10.0.0.2", ["garbage"], proxies) == "10.0.0.2"
    assert real_client_ip("127.0.0.1", ["[2001:db8::1]:443"], proxies) == "2001:db8::1"
    assert real_client_ip("10.0.0.2", ["1.2.3.4"], ()) == "10.0.0.2"


# ---- the HTML rule ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["<b>", "</p", "<!--", "<?xml", "x<script>", "<img src=x onerror=alert(1)>"]
)
def test_markup_is_refused(text: str) -> None:
    assert contains_markup(text)
    with pytest.raises(ValueError, match="markup"):
        check_plain_text(text)


@pytest.mark.parametrize("text", ["a < b", "x<5", "<3", "->", "AT&T", "&lt;b&gt;", "1 <= 2"])
def test_comparisons_and_entities_are_plain_text(text: str) -> None:
    assert check_plain_text(text) == text


@pytest.mark.parametrize("text", ["a\u202eb", "zero\u200bwidth", "nul\x00", "line\nbreak"])
def test_controls_and_invisible_characters_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="control or invisible"):
        check_plain_text(text)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from("<>/!?abc &;=\"' \t-"), max_size=30))
def test_accepted_text_is_what_a_sanitiser_keeps(text: str) -> None:
    """Whatever the rule accepts, nh3 (ammonia) with no tags allowed finds nothing to strip."""
    try:
        check_plain_text(text)
    except ValueError:
        return
    assert html.unescape(nh3.clean(text, tags=set())) == html.unescape(text)


def test_nicknames_follow_the_same_rule() -> None:
    assert normalize_nickname("  Ann  ") == "Ann"
    with pytest.raises(ValueError, match="markup"):
        normalize_nickname("<b>Ann</b>")


# ---- security event sampling ------------------------------------------------------------------


async def test_a_flood_of_events_is_sampled_to_first_plus_summary() -> None:
    emitted: list[AuditEvent] = []

    async def emit(events: list[AuditEvent]) -> None:
        emitted.extend(events)

    events = SecurityEvents(service="test", emit=emit, max_keys=3)
    for i in range(1000):
        events.record(
            "security.rate_limited", reason="x", client_ip="1.1.1.1", correlation_id=f"c{i}"
        )
    for ip in ("2.2.2.2", "3.3.3.3", "4.4.4.4", "5.5.5.5"):
        events.record("security.rate_limited", reason="x", client_ip=ip, correlation_id=None)
    await events.flush()
    assert len(emitted) == 3  # the first of each of the 3 tracked keys
    assert emitted[0].correlation_id == "c0" and emitted[0].client_ip == "1.1.1.1"
    events.close_window()
    await events.flush()
    summaries = emitted[3:]
    assert {(e.client_ip, e.data["suppressed"]) for e in summaries} == {
        ("1.1.1.1", 999),
        (None, 2),  # 4.4.4.4 and 5.5.5.5 did not fit: counted as overflow
    }


# ---- origins and host keys --------------------------------------------------------------------


def test_origin_policy() -> None:
    policy = OriginPolicy(["https://vote.example.org"], allow_missing=True)
    assert policy.allows("https://vote.example.org", "gw.internal:8001")
    assert policy.allows("HTTPS://VOTE.EXAMPLE.ORG/", "gw.internal:8001")
    assert policy.allows("http://gw.example.org:8001", "gw.example.org:8001")  # own origin
    assert not policy.allows("https://evil.example.net", "gw.example.org:8001")
    assert not policy.allows("null", "gw.example.org:8001")
    assert policy.allows(None, "gw.example.org:8001")
    assert not OriginPolicy([], allow_missing=False).allows(None, "gw")


def test_host_keys() -> None:
    key = "s" * 32
    digests = parse_host_keys(f"{key}\nsha256:{'0' * 64}")
    assert key_matches(key, digests)
    assert not key_matches("t" * 32, digests)
    with pytest.raises(ValueError, match="at least 32"):
        parse_host_keys("short")
