"""A dependency that hangs (SIGSTOP, not dead) while votes and host requests run.

For each private server in turn (PostgreSQL, Redis, RabbitMQ) the test stops every process of
it for longer than the services' timeouts, then resumes it. Meanwhile participants vote and a
host reads results and moves the current question. Checked: every vote and every request is
answered within a bound a little over the configured timeouts (a clear 503 or `unavailable`,
never a hang, never a stack trace), the services recover after SIGCONT without a restart, and
every vote acknowledged with `vote_accepted` is stored.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.fault.conftest import start_stack
from tests.fault.pause import paused, stopped_now
from tests.fault.scenario import api_call, create_open_poll
from tests.fault.servers import PrivateServers
from tests.support.eventually import eventually
from tests.support.isolation import Resources
from tests.support.participant import Participant, join_when_available
from tests.support.procs import Stack, stop_cleanly
from tests.support.truth import read_truth

pytestmark = [pytest.mark.fault, pytest.mark.timeout(900)]

TIMEOUTS = {
    "ZEPHYR_DB_STATEMENT_TIMEOUT_SECONDS": "2",
    "ZEPHYR_DB_ACQUIRE_TIMEOUT_SECONDS": "2",
    "ZEPHYR_DB_CONNECT_TIMEOUT_SECONDS": "2",
    "ZEPHYR_REDIS_TIMEOUT_SECONDS": "1",
    "ZEPHYR_AMQP_TIMEOUT_SECONDS": "3",
    "WS_GATEWAY_PUBLISH_TIMEOUT_SECONDS": "3",
    "WS_GATEWAY_POLL_API_TIMEOUT_SECONDS": "2",
}
# Every answer within this: the longest chain of timeouts above (a pool pre-ping, a reconnect,
# a statement) and the machine's noise.
BOUND_S = 12.0
HANG_S = 8.0  # longer than any single timeout above
VOTERS = 12
REPORT: list[dict[str, Any]] = []


@dataclass
class Traffic:
    """What the load saw: (seconds, what) of each vote reply and each HTTP answer."""

    votes: list[tuple[float, float, str]] = field(default_factory=list)  # sent at, took, outcome
    requests: list[tuple[float, float, int, str]] = field(default_factory=list)
    accepted: set[str] = field(default_factory=set)
    stop: asyncio.Event = field(default_factory=asyncio.Event)


async def vote_loop(p: Participant, traffic: Traffic, rng: random.Random) -> None:
    while not traffic.stop.is_set():
        sent = time.monotonic()
        try:
            reply = await p.vote(rng.randrange(5), timeout=60)
        except TimeoutError:
            traffic.votes.append((sent, time.monotonic() - sent, "no reply"))
            continue
        took = time.monotonic() - sent
        if reply["type"] == "vote_accepted":
            traffic.accepted.add(reply["vote_id"])
            traffic.votes.append((sent, took, "accepted"))
            await asyncio.sleep(0.05)
        else:
            traffic.votes.append((sent, took, reply.get("code", "?")))
            await asyncio.sleep(0.2)


async def host_loop(api: str, poll: dict[str, Any], traffic: Traffic) -> None:
    room, auth = poll["room_code"], {"Authorization": f"Bearer {poll['host_token']}"}
    calls = [
        ("GET", f"{api}/api/polls/{room}"),
        ("GET", f"{api}/api/polls/{room}/results"),
        ("POST", f"{api}/api/polls/{room}/questions/0/show"),
    ]
    async with httpx.AsyncClient(timeout=60, headers=auth) as http:
        while not traffic.stop.is_set():
            for method, url in calls:
                sent = time.monotonic()
                try:
                    resp = await http.request(method, url)
                    status, body = resp.status_code, resp.text
                    if status == 503:
                        assert int(resp.headers["Retry-After"]) >= 1, resp.headers
                except httpx.HTTPError as exc:
                    status, body = 0, repr(exc)
                traffic.requests.append((sent, time.monotonic() - sent, status, body))
            await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
def hung_stack(
    fault_resources: Resources, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    stack = start_stack(
        fault_resources, tmp_path_factory.mktemp("hung-logs"), gateways=1, **TIMEOUTS
    )
    try:
        yield stack
    finally:
        stop_cleanly(stack)


async def joined(stack: Stack, room: str, count: int) -> list[Participant]:
    url = f"ws://127.0.0.1:{stack['ws_gateway'].port}/ws/{room}"
    people = []
    for i in range(count):
        p = Participant(url, f"hung-{i}")
        await p.connect()
        await join_when_available(p)
        people.append(p)
    return people


async def recovered(api: str, poll: dict[str, Any], p: Participant) -> float:
    """Seconds from now until a vote is accepted and both host calls answer 200 again."""
    started = time.monotonic()
    auth = {"Authorization": f"Bearer {poll['host_token']}"}
    room = poll["room_code"]
    deadline = started + 120
    while time.monotonic() < deadline:
        reply = await p.vote(0, timeout=60)
        if reply["type"] == "vote_accepted":
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError("votes were not accepted again within 120 s")
    await api_call("GET", f"{api}/api/polls/{room}/results", ok=(200,), timeout=120, headers=auth)
    await api_call(
        "POST", f"{api}/api/polls/{room}/questions/0/show", ok=(200,), timeout=120, headers=auth
    )
    return time.monotonic() - started


@pytest.mark.parametrize("dependency", ["postgres", "redis", "rabbit"])
async def test_a_hung_dependency_gets_clear_errors_in_time_and_loses_nothing(
    dependency: str,
    hung_stack: Stack,
    private_servers: PrivateServers,
    fault_resources: Resources,
) -> None:
    api = hung_stack["poll_api"].url
    poll = await create_open_poll(api, f"Hung {dependency}")
    people = await joined(hung_stack, poll["room_code"], VOTERS)
    traffic, rng = Traffic(), random.Random(7)
    load = [asyncio.create_task(vote_loop(p, traffic, rng)) for p in people]
    load.append(asyncio.create_task(host_loop(api, poll, traffic)))
    try:
        await asyncio.sleep(2)
        server = getattr(private_servers, dependency)
        with paused(server) as pids:
            hung_at = time.monotonic()
            assert stopped_now(pids)
            await asyncio.sleep(HANG_S)
        resumed_at = time.monotonic()
        recovery_s = await recovered(api, poll, people[0])
        await asyncio.sleep(1)
    finally:
        traffic.stop.set()
        await asyncio.gather(*load, return_exceptions=True)
    for p in people:
        traffic.accepted.update(a["vote_id"] for a in p.accepted)

    during = [v for v in traffic.votes if hung_at <= v[0] < resumed_at]
    answered = [r for r in traffic.requests if hung_at <= r[0] < resumed_at]
    assert during and answered, "the load did not run during the hang"
    slow_votes = [v for v in traffic.votes if v[1] > BOUND_S or v[2] == "no reply"]
    slow_requests = [r for r in traffic.requests if r[1] > BOUND_S]
    assert not slow_votes, f"votes answered after {BOUND_S}s: {slow_votes[:5]}"
    assert not slow_requests, f"requests answered after {BOUND_S}s: {slow_requests[:5]}"
    for _, _, status, body in traffic.requests:
        assert status in (200, 503), (status, body[:300])
        assert "Traceback" not in body
        if status == 503:
            assert json.loads(body)["detail"].endswith("unavailable, retry shortly"), body
    vote_outcomes = {v[2] for v in traffic.votes}
    assert vote_outcomes <= {"accepted", "unavailable", "overloaded"}, vote_outcomes

    async def all_stored() -> bool:
        truth = await read_truth(fault_resources.database_url, poll["id"], 5)
        return traffic.accepted <= truth.ballots

    await eventually(all_stored, timeout=120)
    truth = await read_truth(fault_resources.database_url, poll["id"], 5)
    REPORT.append(
        {
            "dependency": dependency,
            "votes_during_hang": len(during),
            "accepted_during_hang": sum(1 for v in during if v[2] == "accepted"),
            "refused_during_hang": sum(1 for v in during if v[2] != "accepted"),
            "slowest_vote_reply_s": round(max(v[1] for v in during), 2),
            "requests_during_hang": len(answered),
            "requests_503": sum(1 for r in answered if r[2] == 503),
            "slowest_request_s": round(max(r[1] for r in answered), 2),
            "recovery_s": round(recovery_s, 2),
            "accepted": len(traffic.accepted),
            "stored": len(traffic.accepted & truth.ballots),
        }
    )
    print(json.dumps(REPORT[-1]))
    for p in people:
        await p.close()
