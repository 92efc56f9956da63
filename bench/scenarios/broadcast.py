"""broadcast: one vote to the last of 10,000 screens, against a bare `websockets` broadcast.

Two phases in one run, with the same load generator processes and the same number of lean
receivers (bench.rawclient), one after the other:

1. Zephyr: the receivers join a poll on one gateway; a voter (one more participant) votes
   `rounds` times, a second apart (a quiet room each time), changing its option. Per round:
   the time from sending the vote to the last receiver's first tally frame after it, through
   the whole pipeline (gateway, broker, worker, Postgres, live exchange, fan-out).
2. Baseline: `bench.bare_server`, a process that only does `websockets.broadcast()`; the
   receivers connect to it and a controller sends `fire` with the exact tally frame the voter
   received in phase 1. Per round: the time from sending `fire` to the last receiver's frame.

The figure is the ratio of the medians (Zephyr / bare): what the pipeline and Zephyr's fan-out
add to the floor the same machine reaches with the same frame and the same clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from tests.support.procs import free_port
from websockets.asyncio.client import ClientConnection, connect

from bench.loadgen import LoadGen
from bench.scenarios.common import specs
from bench.stack import bench_stack
from bench.stats import summarize_ms

OPTIONS = 4


def config(quick: bool) -> dict[str, Any]:
    if quick:
        return {"receivers": 200, "procs": 2, "rounds": 3, "gap_s": 0.5}
    return {"receivers": 10_000, "procs": 4, "rounds": 8, "gap_s": 1.0}


async def _round(load: LoadGen, send: Any, timeout: float = 30) -> dict[str, Any]:
    """Send (the awaitable `send` stamps nothing itself), then the last receiver's delay."""
    since = time.monotonic()
    await send()
    got = await load.command("first_after", {"since": since, "timeout": timeout})
    arrivals = [t for g in got for t in g["at"]]
    return {
        "last_s": (max(arrivals) - since) if arrivals else None,
        "median_s": (statistics.median(arrivals) - since) if arrivals else None,
        "missing": sum(g["missing"] for g in got),
    }


class Voter:
    """One participant that votes and keeps the raw text of the tally frames it gets."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.tallies: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            text = raw if isinstance(raw, str) else raw.decode()
            if text.startswith('{"type":"tally"'):
                self.tallies.append(text)

    async def vote(self, option: int) -> None:
        await self.ws.send(orjson.dumps({"type": "vote", "option": option}).decode())

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(BaseException):
            await self._reader
        await self.ws.close()


async def _zephyr(cfg: dict[str, Any]) -> tuple[list[dict[str, Any]], str, int]:
    async with bench_stack("broadcast") as bs:
        poll = await bs.create_poll(OPTIONS)
        url = bs.ws_url(poll["room_code"])
        load = LoadGen(specs(url, cfg["receivers"], cfg["procs"], "r", lean=True))
        try:
            joined = (await load.start())["joined"]
            await bs.wait_queues_empty("participants", "audit")
            ws = await connect(url, compression=None, ping_interval=None, open_timeout=30)
            await ws.send(orjson.dumps({"type": "join", "nickname": "voter"}).decode())
            await ws.recv()
            voter = Voter(ws)
            rounds = []
            try:
                for k in range(cfg["rounds"]):
                    await asyncio.sleep(cfg["gap_s"])
                    rounds.append(await _round(load, lambda k=k: voter.vote(k % OPTIONS)))
                frame = voter.tallies[-1] if voter.tallies else ""
            finally:
                await voter.close()
        finally:
            await load.stop()
    return rounds, frame, joined


@contextlib.asynccontextmanager
async def _bare_server() -> AsyncIterator[str]:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.bare_server", "--port", str(port)
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.returncode is not None:
                    raise RuntimeError("bench.bare_server did not start") from None
                await asyncio.sleep(0.1)
        yield f"ws://127.0.0.1:{port}/ws/bare"
    finally:
        proc.terminate()
        try:
            async with asyncio.timeout(10):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def _bare(cfg: dict[str, Any], frame: str) -> tuple[list[dict[str, Any]], int]:
    async with _bare_server() as url:
        load = LoadGen(specs(url, cfg["receivers"], cfg["procs"], "r", lean=True))
        try:
            joined = (await load.start())["joined"]
            control = await connect(url, compression=None, ping_interval=None, open_timeout=30)

            async def fire() -> None:
                await control.send(orjson.dumps({"type": "fire", "frame": frame}).decode())
                await control.recv()

            rounds = []
            try:
                for _ in range(cfg["rounds"]):
                    await asyncio.sleep(cfg["gap_s"])
                    rounds.append(await _round(load, fire))
            finally:
                await control.close()
        finally:
            await load.stop()
    return rounds, joined


def _lasts(rounds: list[dict[str, Any]]) -> list[float]:
    return [r["last_s"] for r in rounds if r["last_s"] is not None]


async def run(quick: bool) -> dict[str, Any]:
    cfg = config(quick)
    zephyr, frame, zephyr_joined = await _zephyr(cfg)
    if not frame:
        raise RuntimeError("the voter received no tally frame: nothing to broadcast")
    bare, bare_joined = await _bare(cfg, frame)
    z_last, b_last = _lasts(zephyr), _lasts(bare)
    z_med = statistics.median(z_last) if z_last else None
    b_med = statistics.median(b_last) if b_last else None
    figures = {
        "frame_bytes": len(frame.encode()),
        "zephyr_vote_to_last_screen": summarize_ms(z_last),
        "bare_broadcast_to_last_screen": summarize_ms(b_last),
        "ratio_of_medians": round(z_med / b_med, 2) if z_med and b_med else None,
        "zephyr_rounds": zephyr,
        "bare_rounds": bare,
    }
    checks = {
        "zephyr_receivers_joined": zephyr_joined == cfg["receivers"],
        "bare_receivers_joined": bare_joined == cfg["receivers"],
        "every_receiver_got_every_round": all(r["missing"] == 0 for r in (*zephyr, *bare)),
    }
    return {"settings": cfg, "figures": figures, "checks": checks}


def headline(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    f = result["figures"]
    return [
        (
            "vote -> last screen p50 ms (Zephyr)",
            str(f["zephyr_vote_to_last_screen"].get("p50_ms")),
            "",
        ),
        (
            "bare broadcast -> last screen p50 ms",
            str(f["bare_broadcast_to_last_screen"].get("p50_ms")),
            "",
        ),
        ("ratio of medians", str(f["ratio_of_medians"]), "<= 1.25"),
    ]
