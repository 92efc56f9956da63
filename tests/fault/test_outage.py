"""Dependencies going away under running services: fail fast, keep the connection, recover alone.

Each test breaks one of the private servers under a stack of its own (tight shedding bounds
where needed), checks the clear refusal, restores the server and checks that the service
recovers without a restart.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fault.conftest import start_stack
from tests.fault.scenario import api_call, create_open_poll
from tests.fault.servers import PrivateServers
from tests.support.eventually import eventually
from tests.support.isolation import Resources
from tests.support.participant import Participant, join_when_available
from tests.support.procs import Stack
from tests.support.truth import read_truth

pytestmark = [pytest.mark.fault, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def outage_stack(
    fault_resources: Resources, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    stack = start_stack(
        fault_resources,
        tmp_path_factory.mktemp("outage-logs"),
        gateways=1,
        WS_GATEWAY_SHED_VOTES_BACKLOG="5",
        WS_GATEWAY_GUARD_SAMPLE_MS="200",
        POLL_API_BREAKER_FAILURES="2",
        POLL_API_BREAKER_RESET_SECONDS="1",
    )
    try:
        yield stack
    finally:
        stack.stop_all()


async def vote_until(
    p: Participant, accept: Any, timeout: float, option: int = 1
) -> list[dict[str, Any]]:
    """Vote (one at a time) until `accept(reply)`; every reply on the way."""
    replies: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = await p.vote(option, timeout=30)
        replies.append(reply)
        if accept(reply):
            return replies
        await asyncio.sleep(0.1)
    raise TimeoutError(f"no matching reply within {timeout}s; last: {replies[-3:]}")


def refused_unavailable(reply: dict[str, Any]) -> bool:
    return reply["type"] == "error" and reply["code"] == "unavailable"


def accepted(reply: dict[str, Any]) -> bool:
    return reply["type"] == "vote_accepted"


async def joined_participant(stack: Stack, name: str) -> tuple[Participant, dict[str, Any]]:
    poll = await create_open_poll(stack["poll_api"].url, f"Outage {name}")
    p = Participant(f"ws://127.0.0.1:{stack['ws_gateway'].port}/ws/{poll['room_code']}", name)
    await p.connect()
    await join_when_available(p)
    assert accepted(await p.vote(0))
    return p, poll


async def test_gateway_refuses_votes_while_redis_is_down_and_recovers(
    outage_stack: Stack, private_servers: PrivateServers, fault_resources: Resources
) -> None:
    p, poll = await joined_participant(outage_stack, "redis")
    private_servers.redis.stop()
    try:
        replies = await vote_until(p, refused_unavailable, 60)
        assert replies[-1]["retry_after"] and replies[-1]["retry_after"] > 0
        assert p.connected, "the gateway must keep the connection"
    finally:
        private_servers.redis.start()
    # Redis came back empty: the poll state is rebuilt through poll-api and votes flow again.
    replies = await vote_until(p, accepted, 60, option=2)
    assert p.connected and p.close_code is None
    last = replies[-1]["vote_id"]

    async def stored() -> bool:
        truth = await read_truth(fault_resources.database_url, poll["id"], 5)
        return truth.votes.get(str(p.participant_id), {}).get("vote_id") == last

    await eventually(stored, timeout=60)
    await p.close()


async def test_gateway_refuses_votes_while_rabbitmq_is_down_and_recovers(
    outage_stack: Stack, private_servers: PrivateServers
) -> None:
    p, _ = await joined_participant(outage_stack, "rabbit")
    await asyncio.to_thread(private_servers.rabbit.stop)
    try:
        replies = await vote_until(p, refused_unavailable, 60)
        assert replies[-1]["retry_after"] and replies[-1]["retry_after"] > 0
        assert p.connected, "the gateway must keep the connection"
    finally:
        await asyncio.to_thread(private_servers.rabbit.start)
    await vote_until(p, accepted, 120, option=3)
    assert p.connected and p.close_code is None
    await p.close()


async def test_poll_api_answers_503_with_retry_after_while_postgres_is_down(
    outage_stack: Stack, private_servers: PrivateServers
) -> None:
    api = outage_stack["poll_api"].url
    poll = await create_open_poll(api, "Outage postgres")
    url = f"{api}/api/polls/{poll['room_code']}"
    await asyncio.to_thread(private_servers.postgres.stop, "fast")
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            answers = [await http.get(url) for _ in range(6)]
            for resp in answers:
                assert resp.status_code == 503, resp.text
                assert int(resp.headers["Retry-After"]) >= 1
                assert "Traceback" not in resp.text
            metrics = (await http.get(f"{api}/metrics")).text
        # After the first failures the breaker answers without touching the pool.
        shed = [
            line
            for line in metrics.splitlines()
            if line.startswith("zephyr_poll_api_requests_shed_total") and "circuit_open" in line
        ]
        assert shed and float(shed[0].rsplit(" ", 1)[1]) >= 1, shed
    finally:
        await asyncio.to_thread(private_servers.postgres.start)
    resp = await api_call("GET", url, ok=(200,), timeout=60)
    assert resp.json()["status"] == "open"


async def test_votes_are_shed_while_the_backlog_is_over_its_bound(
    outage_stack: Stack, fault_resources: Resources
) -> None:
    p, poll = await joined_participant(outage_stack, "backlog")
    worker = outage_stack["vote_worker"]
    assert worker.stop() == 0  # nobody consumes: the votes queue grows
    try:

        def overloaded(reply: dict[str, Any]) -> bool:
            return reply["type"] == "error" and reply["code"] == "overloaded"

        replies = await vote_until(p, overloaded, 60)
        assert replies[-1]["retry_after"] > 0
        assert p.connected
    finally:
        worker.start()
        await asyncio.to_thread(worker.wait_ready, 180)
    replies = await vote_until(p, accepted, 60)
    every_accepted = [a["vote_id"] for a in p.accepted]

    async def all_stored() -> bool:
        truth = await read_truth(fault_resources.database_url, poll["id"], 5)
        return set(every_accepted) <= truth.ballots

    await eventually(all_stored, timeout=60)
    await p.close()


async def test_sigterm_closes_sockets_with_1012_and_participants_resume(
    outage_stack: Stack,
) -> None:
    p, _ = await joined_participant(outage_stack, "restart")
    gateway = outage_stack["ws_gateway"]
    gateway.kill(signal.SIGTERM)
    assert await p.wait_closed(30) == 1012
    assert gateway.proc is not None and gateway.proc.wait(30) == 0
    gateway.start()
    await asyncio.to_thread(gateway.wait_ready, 180)
    again = Participant(p.ws_url, "someone", resume_token=p.resume_token)
    await again.connect()
    joined = await again.join()
    assert joined["participant_id"] == p.participant_id
    assert accepted(await again.vote(4))
    await again.close()
