"""scale-out: two gateway processes behind HAProxy (`balance leastconn`).

1. Participants (full clients) connect through HAProxy, spread over both gateways, vote for a
   while; then stored == accepted and every screen shows the stored tally.
2. Receivers (lean, bench.rawclient) connect through HAProxy; tally frames delivered per second
   by the two gateways together are measured as in the fan-out scenario.
3. The same receivers connect to one gateway directly: the baseline of the ratio.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.haproxy import haproxy
from bench.loadgen import LoadGen
from bench.scenarios.common import merged, merged_errors, specs, stored_checks, wait_stored
from bench.scenarios.fanout import GATEWAY_ENV, OPTIONS, measure_fanout
from bench.stack import BenchStack, bench_stack, scrape_metric


def config(quick: bool) -> dict[str, Any]:
    if quick:
        return {
            "voters": 100,
            "receivers": 200,
            "procs": 2,
            "vote_rate": 100,
            "vote_s": 2,
            "warmup_s": 1,
            "window_s": 3,
            "tallies_per_s": 200,
        }
    # One HAProxy process holds two descriptors per participant: under the 20,000 hard limit
    # of this machine's containers that is ~9,900, so 8,000 receivers (4,000 per gateway).
    return {
        "voters": 2_000,
        "receivers": 8_000,
        "procs": 4,
        "vote_rate": 500,
        "vote_s": 10,
        "warmup_s": 3,
        "window_s": 15,
        "tallies_per_s": 200,
    }


def _spread(bs: BenchStack) -> list[int]:
    return [int(scrape_metric(g.url, "zephyr_ws_gateway_connections")) for g in bs.gateways()]


async def _consistency(bs: BenchStack, url: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """Votes through HAProxy; stored == accepted and every screen shows the stored tally."""
    poll = await bs.create_poll(OPTIONS)
    load = LoadGen(specs(f"{url}/ws/{poll['room_code']}", cfg["voters"], cfg["procs"], "x"))
    try:
        joined = await load.start()
        await bs.wait_queues_empty("participants", "audit")
        spread = _spread(bs)
        answers = await load.command(
            "votes",
            {
                "start_at": time.monotonic() + 0.5,
                "duration": cfg["vote_s"],
                "rate": cfg["vote_rate"] / cfg["procs"],
                "options": list(range(OPTIONS)),
            },
        )
        accepted_ids = merged(answers, "accepted_ids")
        await wait_stored(bs, poll["id"], len(accepted_ids))
        checks = await stored_checks(bs, poll["id"], accepted_ids, OPTIONS)
        converged = await load.command(
            "converge", {"counts": checks["final_counts"], "timeout": 60}
        )
    finally:
        await load.stop()
    screens = sum(c["screens"] for c in converged)
    checks.update(
        {
            "every_screen_consistent": sum(c["agree"] for c in converged) == screens,
            "both_gateways_used": all(n > 0 for n in spread),
            "errors": merged_errors(answers),
        }
    )
    return {"joined": joined["joined"], "spread": spread, "checks": checks}


async def _fanout(
    bs: BenchStack, url: str, poll: dict[str, Any], cfg: dict[str, Any], pids: list[int]
) -> dict[str, Any]:
    load = LoadGen(
        specs(f"{url}/ws/{poll['room_code']}", cfg["receivers"], cfg["procs"], "r", lean=True)
    )
    try:
        joined = await load.start()
        await bs.wait_queues_empty("participants", "audit")
        spread = _spread(bs)
        figures = await measure_fanout(bs, load, poll, cfg, pids)
    finally:
        await load.stop()
    return {"receivers": joined["joined"], "connections_per_gateway": spread, **figures}


async def run(quick: bool) -> dict[str, Any]:
    cfg = config(quick)
    async with bench_stack("scaleout", GATEWAY_ENV, gateways=2) as bs:
        gateways = bs.gateways()
        pids = [g.proc.pid for g in gateways]  # type: ignore[union-attr]
        with haproxy([g.port for g in gateways]) as port:
            balanced = f"ws://127.0.0.1:{port}"
            voting = await _consistency(bs, balanced, cfg)
            poll = await bs.create_poll(OPTIONS)
            two = await _fanout(bs, balanced, poll, cfg, pids)
        await asyncio.sleep(1)
        poll = await bs.create_poll(OPTIONS)
        one = await _fanout(bs, f"ws://127.0.0.1:{gateways[0].port}", poll, cfg, pids[:1])
    ratio = (
        two["frames_delivered_per_s"] / one["frames_delivered_per_s"]
        if one["frames_delivered_per_s"]
        else None
    )
    figures = {
        "voters_joined": voting["joined"],
        "voters_per_gateway": voting["spread"],
        "votes_accepted": voting["checks"]["accepted"],
        "two_gateways": two,
        "one_gateway": one,
        "frames_ratio_two_vs_one": round(ratio, 2) if ratio else None,
        "note": "HAProxy, both gateways and the receivers share the same 2 cores",
    }
    return {
        "settings": {**cfg, "gateway_env": GATEWAY_ENV, "balance": "leastconn"},
        "figures": figures,
        "checks": voting["checks"],
    }


def headline(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    f, c = result["figures"], result["checks"]
    two, one = f["two_gateways"], f["one_gateway"]
    return [
        ("receivers per gateway", str(two["connections_per_gateway"]), "spread"),
        ("every screen consistent", str(c["every_screen_consistent"]), "True"),
        (
            "frames/s two vs one (ratio)",
            f"{two['frames_delivered_per_s']} vs {one['frames_delivered_per_s']} "
            f"({f['frames_ratio_two_vs_one']})",
            "",
        ),
    ]
