"""`python -m vote_worker` as an operator runs it: config errors, HTTP endpoints, SIGTERM."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import httpx
from aio_pika.abc import AbstractChannel

from contracts.topology import VOTES_QUEUE
from tests.support.eventually import eventually
from tests.support.procs import ServiceProcess, free_port
from tests.vote_worker.bus import publish
from tests.vote_worker.factories import batch, create_poll, group_by, vote


def test_invalid_configuration_exits_2() -> None:
    env = {**os.environ, "VOTE_WORKER_PREFETCH": "0", "VOTE_WORKER_BATCH_MAX_VOTES": "many"}
    done = subprocess.run(
        [sys.executable, "-m", "vote_worker"], env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 2
    err = done.stderr.decode()
    assert "VOTE_WORKER_PREFETCH" in err and "VOTE_WORKER_BATCH_MAX_VOTES" in err
    assert "Traceback" not in err


def _consumed_votes(metrics: str) -> float:
    for line in metrics.splitlines():
        if line.startswith('zephyr_messages_consumed_total{queue="votes"}'):
            return float(line.split()[-1])
    return 0.0


async def _unacked_left(channel: AbstractChannel, message_ids: set[str]) -> set[str]:
    """Which of these messages are still in the votes queue (peeks without consuming)."""
    queue = await channel.declare_queue(VOTES_QUEUE, passive=True)
    held = []
    try:
        while (message := await queue.get(no_ack=False, fail=False)) is not None:
            held.append(message)
    finally:
        for message in held:
            await message.reject(requeue=True)
    return {m.message_id for m in held if m.message_id} & message_ids


async def test_serves_http_and_drains_pending_votes_on_sigterm(
    tmp_path: Path, channel: AbstractChannel, db: asyncpg.Connection
) -> None:
    # A batch is only due after ten minutes: the votes wait in the worker until SIGTERM.
    proc = ServiceProcess(
        package="vote_worker",
        port=free_port(),
        env={"VOTE_WORKER_BATCH_MAX_WAIT_MS": "600000", "VOTE_WORKER_BATCH_MAX_VOTES": "100000"},
        log_path=tmp_path / "vote_worker.log",
    ).start()
    try:
        await asyncio.to_thread(proc.wait_ready)
        async with httpx.AsyncClient(base_url=proc.url) as http:
            live = await http.get("/health/live")
            assert (live.status_code, live.json()) == (200, {"status": "ok"})
            ready = (await http.get("/health/ready")).json()
            assert ready["status"] == "ready"
            assert {n for n, c in ready["checks"].items() if c["ok"]} == {
                "postgres",
                "redis",
                "rabbitmq",
            }
            before = _consumed_votes((await http.get("/metrics")).text)

            poll = await create_poll(db)
            sent = {
                await publish(
                    channel, batch(vote(poll, uuid.uuid4(), i, seq=1)), routing_key=VOTES_QUEUE
                )
                for i in range(3)
            }

            async def all_consumed() -> bool:
                metrics = (await http.get("/metrics")).text
                return _consumed_votes(metrics) >= before + 3

            await eventually(all_consumed)
            assert "zephyr_vote_worker_flush_seconds_bucket" in (await http.get("/metrics")).text
            assert await group_by(db, poll, 3) == [0, 0, 0]  # pending, not yet flushed

        returncode = await asyncio.to_thread(proc.stop)
        assert returncode == 0, proc.tail()
        assert await group_by(db, poll, 3) == [1, 1, 1]
        assert await _unacked_left(channel, sent) == set()
    finally:
        proc.kill()
