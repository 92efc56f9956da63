"""fanout: 10,000 connections on one gateway process.

Figures: memory per connection (the gateway's RSS delta over the connections, all joined),
tally frames delivered per second (received by the participants, counted in the load
generators) and the gateway's CPU per thousand frames. Tallies are published straight into
`zephyr.live` faster than the gateway can push them, so the figure is the gateway's ceiling.
The participants are lean receivers (bench.rawclient): a full Python WebSocket client costs
more per frame than the gateway does, and they share its two cores.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from bench import procstat
from bench.drive import tally_drive
from bench.loadgen import LoadGen
from bench.scenarios.common import specs
from bench.stack import BenchStack, bench_stack

OPTIONS = 4
KIB = 1024

# The flusher may run every 10 ms: the only limit left is how fast the process can push.
GATEWAY_ENV = {"WS_GATEWAY_TALLY_INTERVAL_MS": "10", "WS_GATEWAY_TALLY_FRAME_BUDGET": "1000000"}


def config(quick: bool) -> dict[str, Any]:
    if quick:
        return {"connections": 200, "procs": 2, "warmup_s": 1, "window_s": 3, "tallies_per_s": 200}
    return {"connections": 10_000, "procs": 4, "warmup_s": 3, "window_s": 15, "tallies_per_s": 200}


async def measure_fanout(
    bs: BenchStack, load: LoadGen, poll: dict[str, Any], cfg: dict[str, Any], pids: list[int]
) -> dict[str, Any]:
    """Drive tallies, then count frames received and gateway CPU over a window."""
    urls = [g.url for g in bs.gateways()]
    async with tally_drive(bs.resources.amqp_url, poll["id"], OPTIONS, cfg["tallies_per_s"]):
        await asyncio.sleep(cfg["warmup_s"])
        cpu0 = sum(procstat.cpu_seconds(p) for p in pids)
        handed0 = sum(_handed(u) for u in urls)
        first = await load.command("snapshot", {})
        await asyncio.sleep(cfg["window_s"])
        last = await load.command("snapshot", {})
        cpu1 = sum(procstat.cpu_seconds(p) for p in pids)
        handed1 = sum(_handed(u) for u in urls)
        rss_driven = sum(procstat.rss_bytes(p) for p in pids)
    frames = sum(b["frames"] - a["frames"] for a, b in zip(first, last, strict=True))
    window = max(b["at"] for b in last) - min(a["at"] for a in first)
    per_s = frames / window if window > 0 else 0.0
    cpu = cpu1 - cpu0
    return {
        "frames_delivered_per_s": round(per_s, 1),
        "frames_handed_per_s": round((handed1 - handed0) / cfg["window_s"], 1),
        "gateway_cpu_seconds_per_s": round(cpu / cfg["window_s"], 3),
        "cpu_ms_per_1000_frames": round(cpu * 1000 / (frames / 1000), 2) if frames else None,
        "rss_while_driven_bytes": rss_driven,
        "connections_open": sum(b["open"] for b in last),
    }


def _handed(url: str) -> float:
    from bench.stack import scrape_metric

    return scrape_metric(url, "zephyr_ws_gateway_tally_frames_delivered_total")


async def run(quick: bool) -> dict[str, Any]:
    cfg = config(quick)
    async with bench_stack("fanout", GATEWAY_ENV) as bs:
        poll = await bs.create_poll(OPTIONS)
        pid = bs.gateways()[0].proc.pid  # type: ignore[union-attr]
        gc.collect()
        await asyncio.sleep(1)
        rss_before = procstat.rss_bytes(pid)
        url = bs.ws_url(poll["room_code"])
        load = LoadGen(specs(url, cfg["connections"], cfg["procs"], "f", lean=True))
        try:
            joined = await load.start()
            await bs.wait_queues_empty("participants", "audit")
            await asyncio.sleep(2)
            rss_joined = procstat.rss_bytes(pid)
            driven = await measure_fanout(bs, load, poll, cfg, [pid])
        finally:
            await load.stop()
    n = joined["joined"]
    figures = {
        "connections": n,
        "join_seconds": round(joined["seconds"], 1),
        "rss_before_bytes": rss_before,
        "rss_joined_bytes": rss_joined,
        "memory_per_connection_kib": round((rss_joined - rss_before) / n / KIB, 2) if n else None,
        **driven,
    }
    checks = {
        "all_connected": n == cfg["connections"],
        "all_open_after_drive": driven["connections_open"] == n,
        "join_failures": joined["failures"],
    }
    return {"settings": {**cfg, "gateway_env": GATEWAY_ENV}, "figures": figures, "checks": checks}


def headline(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    f = result["figures"]
    return [
        ("connections on one gateway", str(f["connections"]), ">= 10000"),
        ("memory per connection KiB", str(f["memory_per_connection_kib"]), "<= 20"),
        ("tally frames delivered/s", str(f["frames_delivered_per_s"]), ">= 40000"),
        ("gateway CPU ms per 1000 frames", str(f["cpu_ms_per_1000_frames"]), ""),
    ]
