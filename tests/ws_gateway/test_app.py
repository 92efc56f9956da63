"""The gateway's lifecycle: it gives up on a dependency that never answers; SIGTERM stops
accepting, flushes pending votes, closes every socket with 1012 and exits 0."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from contracts import PollView
from tests.support.isolation import Resources
from tests.support.procs import ServiceProcess, free_port
from tests.ws_gateway.conftest import (
    UNREACHABLE_POLL_API,
    join,
    make_settings,
    recv,
    send,
    vote_reader,
)
from ws_gateway.app import Gateway


@pytest.mark.parametrize(
    ("dependency", "setting"),
    [
        ("redis", {"redis_url": "redis://127.0.0.1:9/0"}),
        ("rabbitmq", {"amqp_url": "amqp://127.0.0.1:9/"}),
    ],
)
async def test_start_gives_up_on_a_dependency_after_the_connect_timeout(
    resources: Resources, dependency: str, setting: dict[str, str]
) -> None:
    gateway = Gateway(make_settings(**setting))
    try:
        with pytest.raises(ConnectionError, match=f"{dependency} not reachable"):
            await asyncio.wait_for(gateway.start(connect_timeout=0.5), 10)
    finally:
        await gateway.stop()  # stopping a gateway that never started is fine


async def test_sigterm_flushes_votes_closes_with_1012_and_exits_0(
    resources: Resources, poll: PollView, tmp_path: Path
) -> None:
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
        url = f"ws://127.0.0.1:{gateway.port}/ws/{poll.room_code}"
        async with (
            vote_reader(resources, [poll.id]) as reader,
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
