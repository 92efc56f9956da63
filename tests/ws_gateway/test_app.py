"""SIGTERM: stop accepting, flush pending votes, close every socket with 1012, exit 0."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.support.isolation import Resources
from tests.support.procs import ServiceProcess, free_port
from tests.ws_gateway.conftest import UNREACHABLE_POLL_API, join, recv, seed_poll, send, vote_reader
from zephyr_runtime.keys import RedisKeys


async def test_sigterm_flushes_votes_closes_with_1012_and_exits_0(
    resources: Resources, redis_client: aioredis.Redis, keys: RedisKeys, tmp_path: Path
) -> None:
    view, _ = await seed_poll(redis_client, keys)
    gateway = ServiceProcess(
        package="ws_gateway",
        port=free_port(),
        env={
            **resources.env(),
            "WS_GATEWAY_POLL_API_URL": UNREACHABLE_POLL_API,
            # A long batch window: the vote is surely still pending when SIGTERM arrives.
            "WS_GATEWAY_VOTE_BATCH_WAIT_MS": "1000",
        },
        log_path=tmp_path / "ws_gateway.log",
    ).start()
    try:
        await asyncio.to_thread(gateway.wait_ready)
        url = f"ws://127.0.0.1:{gateway.port}/ws/{view.room_code}"
        async with (
            vote_reader(resources, [view.id]) as reader,
            connect(url, proxy=None) as voter,
            connect(url, proxy=None) as watcher,
        ):
            assert (await join(voter, "Ann"))["type"] == "joined"
            await send(voter, {"type": "vote", "option": 1})
            await send(voter, {"type": "ping"})
            assert (await recv(voter))["type"] == "pong"  # the vote is in the batcher now

            gateway.proc.send_signal(signal.SIGTERM)

            accepted = await recv(voter)
            assert accepted["type"] == "vote_accepted"
            for ws in (voter, watcher):
                with pytest.raises(ConnectionClosed):
                    await recv(ws)
                assert ws.close_code == 1012
            returncode = await asyncio.to_thread(gateway.proc.wait, 30)
            assert returncode == 0, gateway.tail()
            votes = await reader.wait_for_votes(1)
            assert str(votes[0].vote_id) == accepted["vote_id"]
    finally:
        gateway.stop()
