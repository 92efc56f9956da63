"""Private servers and a stack of the four services on them, shared by the fault scenarios."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fault.check import Outcome, table
from tests.fault.servers import PrivateServers
from tests.support import isolation
from tests.support.isolation import Resources
from tests.support.procs import Stack, stop_cleanly

SOAK = os.environ.get("ZEPHYR_SOAK") == "1"
OUTCOMES: list[Outcome] = []
REPORT: dict[str, str] = {}

# What the fault stack changes from the defaults: fewer tally frames for the load generator to
# parse, short shutdown grace (restarts are part of the test).
STACK_ENV = {
    "ZEPHYR_SHUTDOWN_GRACE_SECONDS": "20",
    "WS_GATEWAY_TALLY_INTERVAL_MS": "250",
    "ZEPHYR_LOG_LEVEL": "WARNING",
    # Every participant of the load comes from 127.0.0.1 and votes as fast as it is answered:
    # the abuse limits (docs/security.md) are tested elsewhere, not here.
    "WS_GATEWAY_RATE_LIMIT_ENABLED": "false",
    "WS_GATEWAY_RATE_LIMIT_FRAMES_CONNECTION": "1000000/1s",
    "WS_GATEWAY_RATE_LIMIT_VOTE_IP": "1000000/1s",
    "WS_GATEWAY_RATE_LIMIT_VOTE_PARTICIPANT": "1000000/1s",
    "POLL_API_RATE_LIMIT_ENABLED": "false",
}


@pytest.fixture(scope="session")
def private_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateServers]:
    servers = PrivateServers(tmp_path_factory.mktemp("servers")).start()
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture(scope="session")
def fault_resources(private_servers: PrivateServers) -> Resources:
    name = f"zephyr_fault_{uuid.uuid4().hex[:8]}"
    url = asyncio.run(private_servers.postgres.create_database(name))
    res = Resources(
        name=name,
        database_url=url,
        amqp_url=private_servers.rabbit.url,
        redis_url=private_servers.redis.url,
        redis_prefix=name,
        vhost="/",
    )
    isolation.migrate(res)
    return res


def start_stack(res: Resources, log_dir: Path, gateways: int, **extra: str) -> Stack:
    """Like Stack.start_all, with patient readiness waits: the machine is shared and slow."""
    stack = Stack(env={**res.env(), **STACK_ENV, **extra}, log_dir=log_dir)
    try:
        api = stack.add("poll_api", "poll_api").start()
        api.wait_ready(180)
        gateway_env = {"WS_GATEWAY_POLL_API_URL": api.url}
        others = [stack.add("vote_worker", "vote_worker"), stack.add("audit_sink", "audit_sink")]
        others += [
            stack.add(f"ws_gateway{i or ''}", "ws_gateway", gateway_env) for i in range(gateways)
        ]
        for svc in others:
            svc.start()
        for svc in others:
            svc.wait_ready(180)
    except Exception:
        for svc in stack.services.values():
            print(f"--- {svc.package} ---\n{svc.tail()}")
        stack.stop_all()
        raise
    return stack


@pytest.fixture(scope="module")  # stopped before test_outage.py runs its own stack
def fault_stack(
    fault_resources: Resources, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    log_dir = tmp_path_factory.mktemp("fault-logs")
    stack = start_stack(fault_resources, log_dir, gateways=2)
    try:
        yield stack
    finally:
        stop_cleanly(stack)


@pytest.fixture(scope="session")
def fault_report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Outcome]]:
    """Scenarios append their outcome; the table is printed and written as JSON at the end."""
    yield OUTCOMES
    if OUTCOMES:
        path = tmp_path_factory.getbasetemp() / "fault-table.json"
        path.write_text(json.dumps([o.as_dict() for o in OUTCOMES], indent=2, default=str))
        REPORT["path"] = str(path)
        print("\n" + table(OUTCOMES) + f"\nfault table written to {path}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not OUTCOMES:
        return
    terminalreporter.section("fault scenarios" + (" (soak)" if SOAK else ""))
    for line in table(OUTCOMES).splitlines():
        terminalreporter.write_line(line)
    total = sum(o.sent for o in OUTCOMES)
    terminalreporter.write_line(f"votes sent in total: {total}")
    if "path" in REPORT:
        terminalreporter.write_line(f"JSON: {REPORT['path']}")
