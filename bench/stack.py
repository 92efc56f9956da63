"""The services as real processes on private resources, plus what a scenario reads from them.

Reuses the test harness (`tests.support.isolation`, `tests.support.procs.Stack`): a fresh
database, vhost and Redis prefix; the four services on free ports. Everything here is on
127.0.0.1 and is stopped and removed at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import aio_pika
import asyncpg
import httpx
from tests.support import isolation
from tests.support.isolation import Resources
from tests.support.procs import ServiceProcess, Stack

# Services log warnings only: INFO lines per join would cost the processes we measure.
QUIET = {"ZEPHYR_LOG_LEVEL": "WARNING"}
# Every load generator is 127.0.0.1: per-IP and per-participant abuse limits would measure
# themselves, so the benchmark turns them off (unknown names are ignored by the settings).
UNLIMITED = {
    "WS_GATEWAY_RATE_LIMIT_ENABLED": "false",
    "WS_GATEWAY_RATE_LIMIT_FRAMES_CONNECTION": "1000000/10s",
    "WS_GATEWAY_FLOOD_CLOSE_AFTER": "1000000",
    "WS_GATEWAY_MAX_CONNECTIONS_PER_IP": "1000000",
    "WS_GATEWAY_MAX_CONNECTIONS": "100000",
    "POLL_API_RATE_LIMIT_ENABLED": "false",
}


@dataclass
class BenchStack:
    resources: Resources
    stack: Stack
    log_dir: Path

    @property
    def api(self) -> str:
        return self.stack["poll_api"].url

    def gateways(self) -> list[ServiceProcess]:
        return [s for s in self.stack.services.values() if s.package == "ws_gateway"]

    def ws_url(self, room: str, index: int = 0) -> str:
        return f"ws://127.0.0.1:{self.gateways()[index].port}/ws/{room}"

    async def create_poll(
        self, options: int, *, open_it: bool = True, more: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """A poll whose first question is single choice with `options` options; with `more`,
        a run of questions (every one opened with `open_it`)."""
        first = {"question": "Bench?", "options": [f"option {i}" for i in range(options)]}
        body: dict[str, Any] = first
        if more:
            body = {"questions": [{"kind": "single", "prompt": "Bench?", **first}, *more]}
            body["questions"][0].pop("question")
        async with httpx.AsyncClient(base_url=self.api, timeout=30) as http:
            created = await http.post("/api/polls", json=body)
            created.raise_for_status()
            poll: dict[str, Any] = created.json()
            if open_it:
                for index in range(1 + len(more or [])):
                    await self.open_poll(poll, index)
            return poll

    async def open_poll(self, poll: dict[str, Any], index: int = 0) -> None:
        async with httpx.AsyncClient(base_url=self.api, timeout=30) as http:
            opened = await http.post(
                f"/api/polls/{poll['room_code']}/questions/{index}/open",
                headers={"Authorization": f"Bearer {poll['host_token']}"},
            )
            opened.raise_for_status()

    async def show_question(self, poll: dict[str, Any], index: int) -> None:
        async with httpx.AsyncClient(base_url=self.api, timeout=30) as http:
            shown = await http.post(
                f"/api/polls/{poll['room_code']}/questions/{index}/show",
                headers={"Authorization": f"Bearer {poll['host_token']}"},
            )
            shown.raise_for_status()

    async def stored(self, poll_id: str) -> dict[str, Any]:
        """Ballots, counted votes and the tally row of a poll, straight from Postgres."""
        conn = await asyncpg.connect(self.resources.database_url)
        try:
            ballots = await conn.fetchval(
                "SELECT count(*) FROM ballots WHERE poll_id = $1", UUID(poll_id)
            )
            grouped = await conn.fetch(
                "SELECT option, count(*) AS n FROM votes WHERE poll_id = $1 AND qid = 0"
                " GROUP BY option",
                UUID(poll_id),
            )
            tally = await conn.fetchrow(
                "SELECT counts, total, version FROM tallies WHERE poll_id = $1 AND qid = 0",
                UUID(poll_id),
            )
        finally:
            await conn.close()
        group_by: dict[int, int] = {r["option"]: r["n"] for r in grouped}
        return {
            "ballots": int(ballots),
            "group_by": group_by,
            "tally_counts": list(tally["counts"]) if tally else None,
            "tally_total": tally["total"] if tally else 0,
            "tally_version": tally["version"] if tally else 0,
        }

    async def ballot_ids(self, poll_id: str) -> set[str]:
        conn = await asyncpg.connect(self.resources.database_url)
        try:
            rows = await conn.fetch("SELECT vote_id FROM ballots WHERE poll_id = $1", UUID(poll_id))
        finally:
            await conn.close()
        return {str(r["vote_id"]) for r in rows}

    async def queue_depths(self, *names: str) -> dict[str, int]:
        """Ready messages per queue (passive declare: never creates or changes a queue)."""
        connection = await aio_pika.connect(self.resources.amqp_url, timeout=10)
        try:
            depths = {}
            for name in names:
                channel = await connection.channel()
                queue = await channel.declare_queue(name, passive=True)
                depths[name] = int(queue.declaration_result.message_count or 0)
                await channel.close()
            return depths
        finally:
            await connection.close()

    async def wait_settled(self, name: str, timeout: float = 120) -> float:
        """Wait until `name` holds no message, ready or delivered and not yet acked (a passive
        declare counts only the ready ones): everything consumed has been acked. The seconds
        waited."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if await asyncio.to_thread(self._messages, name) == 0:
                return time.monotonic() - started
            await asyncio.sleep(0.2)
        raise TimeoutError(f"{name} still holds messages after {timeout}s")

    def _messages(self, name: str) -> int:
        exe = shutil.which("rabbitmqctl") or "rabbitmqctl"
        listed = subprocess.run(
            [exe, "list_queues", "-q", "-p", self.resources.vhost, "name", "messages"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        for line in listed.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == name and parts[1].isdigit():
                return int(parts[1])
        raise LookupError(f"no queue {name} in vhost {self.resources.vhost}")

    async def wait_queues_empty(self, *names: str, timeout: float = 300) -> float:
        """Wait until every named queue is empty; returns the seconds waited."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            depths = await self.queue_depths(*names)
            if not any(depths.values()):
                return time.monotonic() - started
            await asyncio.sleep(0.5)
        raise TimeoutError(f"queues not drained within {timeout}s: {depths}")

    def gateway_metric(self, name: str, index: int = 0) -> float:
        """One sample value (summed over labels) from a gateway's /metrics."""
        return scrape_metric(self.gateways()[index].url, name)


def scrape_metric(base_url: str, name: str) -> float:
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    total = 0.0
    pattern = re.compile(rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)$")
    for line in text.splitlines():
        match = pattern.match(line)
        if match:
            total += float(match.group(2))
    return total


@contextlib.asynccontextmanager
async def bench_stack(
    label: str, env: dict[str, str] | None = None, gateways: int = 1
) -> AsyncIterator[BenchStack]:
    """Fresh resources and the four services (`gateways` ws-gateway processes)."""
    resources = await isolation.create(f"b{label}")
    log_dir = Path(tempfile.mkdtemp(prefix=f"zephyr-bench-{label}-"))
    stack = Stack(env={**resources.env(), **QUIET, **UNLIMITED, **(env or {})}, log_dir=log_dir)
    try:
        await asyncio.to_thread(isolation.migrate, resources)
        await asyncio.to_thread(stack.start_all, gateways)
        yield BenchStack(resources, stack, log_dir)
    except BaseException:
        for svc in stack.services.values():
            print(f"--- {svc.package} ({svc.log_path}) ---\n{svc.tail(20)}")
        raise
    finally:
        await asyncio.to_thread(stack.stop_all)
        await isolation.destroy(resources)
