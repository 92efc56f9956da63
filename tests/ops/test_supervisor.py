"""`make run` as an init system: a killed service is back within seconds, a crash loop is given up.

The real `infra/scripts/devstack.py run` runs as a subprocess on private resources and free
ports; the tests SIGKILL its services (their pids come from its `started (pid N)` lines).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import isolation
from tests.support.eventually import eventually_sync
from tests.support.procs import PREFIXES, free_port

ROOT = Path(__file__).resolve().parents[2]
DEVSTACK = ROOT / "infra" / "scripts" / "devstack.py"
STARTED = re.compile(r"^\[zephyr\] (\w+) started \(pid (\d+)\)$")


@dataclass
class DevStack:
    """A running `devstack.py run`: its combined output and the services' ports."""

    proc: subprocess.Popen[bytes]
    log: Path
    ports: dict[str, int]

    def lines(self) -> list[str]:
        """The supervisor's own lines (the services write JSON logs to the same file)."""
        text = self.log.read_text(errors="replace")
        return [line for line in text.splitlines() if line.startswith("[zephyr]")]

    def pids(self, name: str) -> list[int]:
        """Every pid `name` was started with, oldest first."""
        found = (STARTED.match(line) for line in self.lines())
        return [int(m[2]) for m in found if m and m[1] == name]

    def answers(self, name: str, path: str = "/health/ready") -> bool:
        try:
            url = f"http://127.0.0.1:{self.ports[name]}{path}"
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def stop(stack: DevStack) -> int | None:
    """SIGTERM the supervisor; kill it and its services if it is not done within 60 s."""
    if stack.proc.poll() is None:
        stack.proc.send_signal(signal.SIGTERM)
    try:
        return stack.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        stack.proc.kill()
        stack.proc.wait(timeout=10)
        for name in PREFIXES:
            for pid in stack.pids(name):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        return None


@pytest.fixture(scope="module")
def devstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    """`devstack.py run` on fresh resources (it migrates them itself, as `make run` does)."""
    res = asyncio.run(isolation.create("sv"))
    try:
        ports = {name: free_port() for name in PREFIXES}
        log = tmp_path_factory.mktemp("devstack") / "devstack.log"
        # Its own run directory: a developer's `make run` may be using the checkout's .run.
        env = {**os.environ, **res.env(), "ZEPHYR_RUN_DIR": str(log.parent / "run")}
        env.pop("WS_GATEWAY_POLL_API_URL", None)
        env.update({f"{PREFIXES[name]}PORT": str(port) for name, port in ports.items()})
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, str(DEVSTACK), "run"],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        stack = DevStack(proc=proc, log=log, ports=ports)
        try:
            eventually_sync(
                lambda: (
                    proc.poll() is not None or "[zephyr] all four services are up" in stack.lines()
                ),
                timeout=120,
                interval=0.2,
                what="devstack start-up",
            )
            assert proc.poll() is None, stack.tail()
            yield stack
        finally:
            code = stop(stack)
            assert code == 0, f"devstack exited with {code} on SIGTERM:\n{stack.tail()}"
    finally:
        asyncio.run(isolation.destroy(res))


@pytest.mark.e2e
def test_a_killed_service_is_back_within_10_s(devstack: DevStack) -> None:
    [old] = devstack.pids("vote_worker")
    live_failures: list[float] = []

    def back() -> bool:
        if not devstack.answers("poll_api", "/health/live"):
            live_failures.append(time.monotonic())
        return len(devstack.pids("vote_worker")) == 2 and devstack.answers("vote_worker")

    os.kill(old, signal.SIGKILL)
    eventually_sync(back, timeout=10, interval=0.1, what="vote_worker ready again")
    lines = devstack.lines()
    assert "[zephyr] vote_worker exited with SIGKILL; restarting in 0.5 s (restart 1)" in lines
    eventually_sync(lambda: "[zephyr] vote_worker is back" in devstack.lines(), timeout=5)
    assert not live_failures, "poll_api stopped answering /health/live"


@pytest.mark.e2e
def test_a_crash_loop_is_given_up_and_the_others_keep_serving(devstack: DevStack) -> None:
    back = "[zephyr] audit_sink is back"
    for kill in range(5):
        # The first kill hits the process of the first start; each later one the restarted one,
        # as soon as it is back (back-off 0.5, 1, 2, 4 s: all five exits are within 60 s).
        eventually_sync(
            lambda n=kill: devstack.lines().count(back) >= n,
            timeout=20,
            interval=0.1,
            what=f"audit_sink back {kill} times",
        )
        os.kill(devstack.pids("audit_sink")[-1], signal.SIGKILL)
    given_up = (
        "[zephyr] audit_sink exited 5 times in 60 s: not restarting it; the others keep serving"
    )
    eventually_sync(lambda: given_up in devstack.lines(), timeout=10, what="crash loop noticed")
    restarts = [line for line in devstack.lines() if line.startswith("[zephyr] audit_sink exited")]
    assert restarts[:4] == [
        f"[zephyr] audit_sink exited with SIGKILL; restarting in {delay} s (restart {n})"
        for n, delay in ((1, "0.5"), (2, "1"), (3, "2"), (4, "4"))
    ]
    time.sleep(1.5)  # time for a restart that must not happen
    assert devstack.lines().count(given_up) == 1
    assert len(devstack.pids("audit_sink")) == 5
    assert not devstack.answers("audit_sink", "/health/live")
    for name in ("poll_api", "vote_worker", "ws_gateway"):
        assert devstack.answers(name), f"{name} is not ready:\n{devstack.tail()}"
    assert devstack.proc.poll() is None
