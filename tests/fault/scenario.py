"""One fault scenario: a poll, hundreds of voting participants, one fault in the middle, checks.

`run_scenario` drives the load over real WebSockets, calls `inject` once a given share of the
votes has been accepted (the load keeps going meanwhile), then closes the poll, drains and
evaluates. `inject` returns when the fault is over (restarted, started again). Then one probe
participant casts a vote; the time until that vote is accepted *and* stored in PostgreSQL (it
waits behind whatever backlog the fault left) is the scenario's time to recover.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from tests.fault.check import Outcome, drain, evaluate, redis_converges, screens_converge
from tests.fault.servers import PrivateServers
from tests.fault.voter import Planned, Voter
from tests.support.isolation import Resources
from tests.support.procs import Stack

OPTIONS = ["North", "East", "South", "West", "Up"]
# A run of mixed kinds, all open at once: question 0 (current, answered as a first-version
# client would) takes two answers in three, the ranking and the multiple choice the rest.
QUESTIONS: list[dict[str, Any]] = [
    {"kind": "single", "prompt": "Which way?", "options": OPTIONS},
    {"kind": "ranking", "prompt": "Order them", "options": ["A", "B", "C", "D"], "rank_count": 3},
    {
        "kind": "multiple",
        "prompt": "Pick up to two",
        "options": ["W", "X", "Y", "Z"],
        "min_choices": 1,
        "max_choices": 2,
    },
]


def _ranking(rng: random.Random) -> tuple[int, dict[str, Any]]:
    return 1, {"ranking": rng.sample(range(4), 3)}


def _multiple(rng: random.Random) -> tuple[int, dict[str, Any]]:
    return 2, {"options": rng.sample(range(4), rng.randint(1, 2))}


OTHER_ANSWERS = [_ranking, _multiple]


@dataclass
class Load:
    participants: int = 500
    votes_each: int = 40
    window: int = 8
    fault_at: float = 0.3  # share of planned votes accepted before the fault

    @property
    def planned(self) -> int:
        return self.participants * self.votes_each


@dataclass
class ScenarioContext:
    stack: Stack
    servers: PrivateServers
    resources: Resources
    poll: dict[str, Any]
    voters: list[Voter]
    rng: random.Random

    @property
    def api(self) -> str:
        return self.stack["poll_api"].url

    def host_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.poll['host_token']}"}


Inject = Callable[[ScenarioContext], Awaitable[None]]


async def api_call(
    method: str, url: str, *, ok: tuple[int, ...] = (200, 201), timeout: float = 90, **kw: Any
) -> httpx.Response:
    """Call poll-api until it answers one of `ok` (it may be restarting or shedding)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    async with httpx.AsyncClient(timeout=10) as http:
        while time.monotonic() < deadline:
            try:
                resp = await http.request(method, url, **kw)
                if resp.status_code in ok:
                    return resp
                last = f"{resp.status_code} {resp.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            await asyncio.sleep(0.3)
    raise TimeoutError(f"{method} {url}: {last}")


async def create_open_poll(api: str, question: str) -> dict[str, Any]:
    """A run of QUESTIONS (the first one current), every question open."""
    questions = [{**QUESTIONS[0], "prompt": question[:300]}, *QUESTIONS[1:]]
    created = await api_call("POST", f"{api}/api/polls", json={"questions": questions})
    poll: dict[str, Any] = created.json()
    for index in range(len(QUESTIONS)):
        await api_call(
            "POST",
            f"{api}/api/polls/{poll['room_code']}/questions/{index}/open",
            headers={"Authorization": f"Bearer {poll['host_token']}"},
        )
    return poll


def gateway_urls(stack: Stack, room: str) -> list[str]:
    return [
        f"ws://127.0.0.1:{svc.port}/ws/{room}"
        for name, svc in stack.services.items()
        if name.startswith("ws_gateway")
    ]


async def _wait_accepted(voters: list[Voter], target: int, runners: asyncio.Future[Any]) -> None:
    while sum(len(v.accepted) for v in voters) < target and not runners.done():
        await asyncio.sleep(0.05)


async def _probe(probe: Voter, database_url: str, deadline: float) -> float:
    """Cast the probe's vote (retrying until accepted); when it is stored, the time."""
    await probe.run(1, deadline)
    vote_id = UUID(str(probe.accepted[-1]["vote_id"]))
    while time.monotonic() < deadline:
        try:
            conn = await asyncpg.connect(database_url, timeout=5)
            try:
                if await conn.fetchval("SELECT 1 FROM ballots WHERE vote_id = $1", vote_id):
                    return time.monotonic()
            finally:
                await conn.close()
        except (OSError, asyncpg.PostgresError):
            pass
        await asyncio.sleep(0.05)
    raise TimeoutError("the probe vote was never stored")


async def run_scenario(
    name: str,
    inject: Inject,
    *,
    stack: Stack,
    servers: PrivateServers,
    resources: Resources,
    load: Load,
    seed: int,
    retry_closed: bool = False,
) -> tuple[Outcome, ScenarioContext]:
    rng = random.Random(seed)
    poll = await create_open_poll(stack["poll_api"].url, f"Fault: {name}")
    urls = gateway_urls(stack, poll["room_code"])
    voters = [
        Voter(urls, f"{name[:12]}-{i}", home=i % len(urls), retry_closed=retry_closed)
        for i in range(load.participants)
    ]
    for voter in voters:
        voter.make_plan(load.votes_each, len(OPTIONS), rng, OTHER_ANSWERS)
    probe = Voter(urls, f"{name[:12]}-probe", home=len(urls) - 1, retry_closed=retry_closed)
    voters.append(probe)
    ctx = ScenarioContext(stack, servers, resources, poll, voters, rng)
    deadline = time.monotonic() + 420
    joining = asyncio.Semaphore(50)

    async def join(voter: Voter) -> None:
        async with joining:
            await voter.connect_and_join(deadline)

    await asyncio.gather(*(join(v) for v in voters))

    runners = asyncio.gather(*(v.run(load.window, deadline) for v in voters))
    outcome = Outcome(scenario=name, participants=load.participants)
    try:
        await _wait_accepted(voters, int(load.planned * load.fault_at), runners)
        fault_started = time.monotonic()
        await inject(ctx)
        fault_over = time.monotonic()
        probe.plan = [Planned(f"probe-{name[:1]}", 0)]
        recovered = await _probe(probe, resources.database_url, deadline)
        await runners
    except BaseException:
        runners.cancel()
        await asyncio.gather(runners, return_exceptions=True)
        await asyncio.gather(*(v.close() for v in voters))
        raise
    outcome.recover_s = round(recovered - fault_over, 3)
    outcome.details["fault_s"] = round(fault_over - fault_started, 3)

    await api_call(
        "POST",
        f"{ctx.api}/api/polls/{poll['room_code']}/close",
        headers=ctx.host_headers(),
        ok=(200, 409),
    )
    stored = await drain(resources.database_url, poll["id"], len(OPTIONS), voters, timeout=180)
    evaluate(outcome, voters, stored)
    key = f"{resources.redis_prefix}:poll:{poll['id']}:tally:0"
    outcome.redis_sync_s = await redis_converges(resources.redis_url, key, stored.group_by, 60)
    outcome.screens_ok = await screens_converge(voters, stored.group_by, 60, stored)
    outcome.details["unexpected_errors"] = [e for v in voters for e in v.unexpected][:5]
    await asyncio.gather(*(v.close() for v in voters))
    return outcome, ctx
