"""join storm: 10,000 participants join one poll as fast as they can (the keynote's QR code).

Every load process opens its connections concurrently (behind a semaphore of 100 per process)
and joins; nobody votes. Figures: the time until all have joined, joins per second, the join
latency (connect + `join` → `joined`), and each service's CPU seconds per 1,000 joins over
the storm (read from /proc), so a change to the join path shows where it pays. Checks: every
participant joined, Postgres holds one `participants` row per participant, and the gateway's
nickname claims (the host's participant count) equal them.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from uuid import UUID

import asyncpg
import redis.asyncio as aioredis

from bench.cpu import CpuMeter
from bench.loadgen import LoadGen
from bench.scenarios.common import specs
from bench.stack import BenchStack, bench_stack
from bench.stats import summarize_ms
from zephyr_runtime.keys import RedisKeys

OPTIONS = 4


def config(quick: bool) -> dict[str, Any]:
    if quick:
        return {"participants": 300, "procs": 2}
    return {"participants": 10_000, "procs": 4}


async def _stored(bs: BenchStack, poll_id: str) -> tuple[int, int]:
    """(participants rows in Postgres, nickname claims in Redis) of the poll."""
    conn = await asyncpg.connect(bs.resources.database_url, timeout=10)
    try:
        rows = await conn.fetchval(
            "SELECT count(*) FROM participants WHERE poll_id = $1", UUID(poll_id)
        )
    finally:
        await conn.close()
    client = aioredis.from_url(bs.resources.redis_url)
    try:
        claims = await client.hlen(RedisKeys(bs.resources.redis_prefix).nicknames(poll_id))
    finally:
        await client.aclose()
    return int(rows), int(claims)


async def _settle(bs: BenchStack, poll_id: str, joined: int, timeout: float = 120) -> float:
    """Wait until the worker has stored every confirmed join: the queues hold nothing, ready
    or delivered and not yet acked, and the rows are there (or the timeout passed; the check
    then reports the shortfall). The seconds waited."""
    started = time.monotonic()
    for name in ("participants", "audit"):
        await bs.wait_settled(name, timeout=timeout)
    while time.monotonic() - started < timeout:
        rows, _ = await _stored(bs, poll_id)
        if rows >= joined:
            break
        await asyncio.sleep(0.5)
    return time.monotonic() - started


async def run(quick: bool) -> dict[str, Any]:
    cfg = config(quick)
    async with bench_stack("joinstorm") as bs:
        poll = await bs.create_poll(OPTIONS)
        load = LoadGen(specs(bs.ws_url(poll["room_code"]), cfg["participants"], cfg["procs"], "j"))
        meter = CpuMeter.of(bs)  # the load generators' CPU is not counted (they start inside)
        try:
            before, started = meter.sample(), time.monotonic()
            joined = await load.start()
            storm_s = time.monotonic() - started
            after = meter.sample()
            settle_s = await _settle(bs, poll["id"], joined["joined"])
            rows, claims = await _stored(bs, poll["id"])
        finally:
            await load.stop()
    count = joined["joined"]
    thousands = max(count, 1) / 1000
    checks = {
        "every_participant_joined": count == cfg["participants"],
        "participants_stored": rows,
        "stored_equals_joined": rows == count,
        "nickname_claims_equal_joined": claims == count,
        "join_failures": joined["failures"],
    }
    figures = {
        "participants_joined": count,
        "join_seconds": round(joined["seconds"], 2),
        "storm_seconds_with_process_start": round(storm_s, 2),
        "stored_after_s": round(settle_s, 2),
        "joins_per_s": round(count / joined["seconds"], 1) if joined["seconds"] else None,
        "join_latency": summarize_ms(joined["join_latency"]),
        "cpu_s_per_1000_joins": {
            name: round(max(0.0, after[name] - before[name]) / thousands, 3)
            for name in sorted(after)
            if name != "load_generators"
        },
        "storm_cpu_share_of_one_core": {
            name: round(max(0.0, after[name] - before[name]) / storm_s, 2)
            for name in sorted(after)
            if name != "load_generators"
        },
    }
    return {"settings": cfg, "figures": figures, "checks": checks}


def headline(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    f, c = result["figures"], result["checks"]
    return [
        ("every participant joined and stored", str(c["stored_equals_joined"]), "True"),
        ("join storm s (all joined)", str(f["join_seconds"]), "<= 5"),
        ("join p99 ms", str(f["join_latency"].get("p99_ms")), "<= 1000"),
        (
            "gateway CPU s per 1,000 joins",
            str(f["cpu_s_per_1000_joins"].get("ws_gateway")),
            "lower",
        ),
    ]
