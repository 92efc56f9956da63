"""A running stack with a little traffic, shared by the tests that scrape real /metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.infra.metric_names import exported_names
from tests.infra.prometheus_server import PrometheusServer, scrape_config
from tests.support import isolation
from tests.support.eventually import eventually
from tests.support.host import create_open_poll
from tests.support.isolation import Resources
from tests.support.participant import Participant
from tests.support.procs import Stack, supervised

# Gauges of the outside world (dependencies, queue depths, pools) refresh this often in tests.
SAMPLE_SECONDS = "1"


@pytest.fixture(scope="package")
def infra_resources() -> Iterator[Resources]:
    res = asyncio.run(isolation.create("infra"))
    try:
        isolation.migrate(res)
        yield res
    finally:
        asyncio.run(isolation.destroy(res))


async def _drive_traffic(stack: Stack) -> None:
    """One poll, one participant, one vote: every pipeline metric gets a sample."""
    api = stack["poll_api"].url
    poll = await create_open_poll(api, "Ops?", ["a", "b"])
    async with httpx.AsyncClient(base_url=api, timeout=10) as http:
        assert (await http.get("/api/polls/NOSUCH")).status_code == 404  # a 4xx sample
    ws_url = f"ws://127.0.0.1:{stack['ws_gateway'].port}/ws/{poll['room_code']}"
    voter = Participant(ws_url, "operator")
    await voter.connect()
    await voter.join()
    accepted = await voter.vote(1)
    assert accepted["type"] == "vote_accepted", accepted

    async def tally_seen() -> bool:
        return voter.last_tally is not None and voter.last_tally["total"] == 1

    await eventually(tally_seen, timeout=30)
    await voter.close()

    async def recorded() -> bool:
        async with httpx.AsyncClient(timeout=5) as http:
            text = (await http.get(f"{stack['vote_worker'].url}/metrics")).text
        return "zephyr_vote_worker_votes_recorded_total 1.0" in text

    await eventually(recorded, timeout=30)


@pytest.fixture(scope="package")
def infra_stack(
    infra_resources: Resources, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    log_dir: Path = tmp_path_factory.mktemp("infra-logs")
    env = {**infra_resources.env(), "ZEPHYR_METRICS_SAMPLE_SECONDS": SAMPLE_SECONDS}
    with supervised(env, log_dir) as running:
        running.start_all()
        asyncio.run(_drive_traffic(running))
        yield running


@pytest.fixture(scope="package")
def live_metric_names(infra_stack: Stack) -> dict[str, set[str]]:
    """Every metric name each service exports on /metrics, by service."""
    names: dict[str, set[str]] = {}
    for name, svc in infra_stack.services.items():
        resp = httpx.get(f"{svc.url}/metrics", timeout=10)
        assert resp.status_code == 200, resp.text
        names[name] = exported_names(resp.text)
    return names


@pytest.fixture(scope="package")
def prometheus(
    infra_stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusServer]:
    """A real Prometheus scraping the stack every second, with Zephyr's alert rules."""
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"), scrape_config(infra_stack))
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
