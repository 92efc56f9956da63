"""Not one vote lost or counted twice: the real services under SIGKILLs and server restarts.

Each scenario runs >= 20,000 votes from >= 500 participants over real WebSockets against the
private servers and injects one fault in the middle of the load. `ZEPHYR_SOAK=1` makes the load
larger and the moment of the fault random. See docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
from collections.abc import Awaitable, Callable

import httpx
import pytest

from tests.fault.check import Outcome
from tests.fault.conftest import SOAK
from tests.fault.scenario import Load, ScenarioContext, api_call, run_scenario
from tests.fault.servers import PrivateServers
from tests.support.isolation import Resources
from tests.support.procs import ServiceProcess, Stack

pytestmark = [pytest.mark.fault, pytest.mark.timeout(1800 if SOAK else 420)]

SEED = int(os.environ.get("ZEPHYR_FAULT_SEED", "3"))


def load_for(index: int) -> Load:
    if not SOAK:
        return Load(participants=500, votes_each=40, window=8, fault_at=0.3)
    rng = random.Random(SEED * 100 + index)
    return Load(participants=600, votes_each=50, window=8, fault_at=rng.uniform(0.1, 0.8))


async def restart(svc: ServiceProcess, pause: float = 0.3) -> None:
    """Start a killed service again on its port and wait until it is ready."""
    await asyncio.sleep(pause)
    svc.start()
    await asyncio.to_thread(svc.wait_ready, 180)


async def kill_worker(ctx: ScenarioContext) -> None:
    worker = ctx.stack["vote_worker"]
    worker.kill(signal.SIGKILL)  # mid-batch: the load keeps the worker busy
    await restart(worker)


async def kill_gateway(ctx: ScenarioContext) -> None:
    gateway = ctx.stack["ws_gateway"]
    gateway.kill(signal.SIGKILL)  # its participants reconnect to the other one, then resume
    await restart(gateway, pause=1.0)


async def _host_action_killed(ctx: ScenarioContext, action: str, status: str) -> None:
    """Send `action`, SIGKILL poll-api while it runs, restart, make sure the action happened."""
    url = f"{ctx.api}/api/polls/{ctx.poll['room_code']}"
    api = ctx.stack["poll_api"]

    async def send() -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            # Killed mid-request: the host does not know whether it happened.
            with contextlib.suppress(httpx.HTTPError):
                await http.post(f"{url}/{action}", headers=ctx.host_headers())

    request = asyncio.create_task(send())
    await asyncio.sleep(ctx.rng.uniform(0.0, 0.02))
    api.kill(signal.SIGKILL)
    await request
    await restart(api)
    await api_call("POST", f"{url}/{action}", headers=ctx.host_headers(), ok=(200, 409))
    current = await api_call("GET", url)
    assert current.json()["status"] == status, current.text


async def kill_poll_api(ctx: ScenarioContext) -> None:
    await _host_action_killed(ctx, "close", "closed")

    # The outbox delivers the change: every connected screen hears that the poll closed.
    async def closed_everywhere() -> bool:
        return all("closed" in v.states for v in ctx.voters if v.connected)

    for _ in range(300):
        if await closed_everywhere():
            break
        await asyncio.sleep(0.1)
    assert await closed_everywhere(), "the close never reached every screen"
    await _host_action_killed(ctx, "open", "open")


async def restart_rabbitmq(ctx: ScenarioContext) -> None:
    await asyncio.to_thread(ctx.servers.rabbit.stop)
    await asyncio.sleep(1.0)
    await asyncio.to_thread(ctx.servers.rabbit.start)


async def restart_redis(ctx: ScenarioContext) -> None:
    await asyncio.to_thread(ctx.servers.redis.restart)  # SIGKILL, no persistence: data gone


async def restart_postgres(ctx: ScenarioContext) -> None:
    await asyncio.to_thread(ctx.servers.postgres.restart, "immediate")


async def sigterm_gateway(ctx: ScenarioContext) -> None:
    gateway = ctx.stack["ws_gateway"]
    code = await asyncio.to_thread(gateway.stop, 30)  # closes every socket with 1012
    assert code == 0, gateway.tail()
    await restart(gateway)


async def sigterm_worker(ctx: ScenarioContext) -> None:
    worker = ctx.stack["vote_worker"]
    code = await asyncio.to_thread(worker.stop, 30)  # finishes and acks the batch in hand
    assert code == 0, worker.tail()
    await restart(worker)


SCENARIOS: list[tuple[str, Callable[[ScenarioContext], Awaitable[None]], bool]] = [
    ("1 kill vote-worker", kill_worker, False),
    ("2 kill ws-gateway", kill_gateway, False),
    ("3 kill poll-api", kill_poll_api, True),
    ("4 restart rabbitmq", restart_rabbitmq, False),
    ("5 restart redis", restart_redis, False),
    ("6 restart postgres", restart_postgres, False),
    ("7 sigterm ws-gateway", sigterm_gateway, False),
    ("8 sigterm vote-worker", sigterm_worker, False),
]


@pytest.mark.parametrize(
    ("index", "name", "inject", "retry_closed"),
    [(i, *s) for i, s in enumerate(SCENARIOS)],
    ids=[s[0].split(" ", 1)[1].replace(" ", "-") for s in SCENARIOS],
)
async def test_no_vote_lost_or_counted_twice(
    index: int,
    name: str,
    inject: Callable[[ScenarioContext], Awaitable[None]],
    retry_closed: bool,
    fault_stack: Stack,
    private_servers: PrivateServers,
    fault_resources: Resources,
    fault_report: list[Outcome],
) -> None:
    load = load_for(index)
    try:
        outcome, _ = await run_scenario(
            name,
            inject,
            stack=fault_stack,
            servers=private_servers,
            resources=fault_resources,
            load=load,
            seed=SEED + index,
            retry_closed=retry_closed,
        )
    except BaseException:
        for svc in fault_stack.services.values():
            print(f"--- {svc.package} ({svc.log_path.name}) ---\n{svc.tail(60)}")
        raise
    fault_report.append(outcome)
    print(f"\n{name}: {outcome.as_dict()}")
    assert outcome.sent >= load.planned
    assert outcome.participants >= 500
    assert outcome.accepted >= load.planned * 0.9, outcome.details
    assert outcome.lost == 0, outcome.details
    assert outcome.duplicated == 0, outcome.details
    assert outcome.stored == outcome.accepted
    assert outcome.redis_sync_s is not None, "Redis never converged to PostgreSQL"
    assert outcome.screens_ok, "a connected screen's last tally is not the truth"
    assert not outcome.details["unexpected_errors"], outcome.details["unexpected_errors"]
    if name.startswith("2"):
        assert outcome.details["reconnects"] > 0  # participants really moved and resumed
