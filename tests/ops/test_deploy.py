"""`make deploy` against a running `make run`: a rolling update under load, and two roll backs.

The real `infra/scripts/devstack.py run` runs as a subprocess on private resources, free public
ports and a private run directory (ZEPHYR_RUN_DIR); the real `infra/scripts/deploy.py` talks to
it. Participants vote through the public gateway port the whole time (tests/fault/voter.py);
afterwards tests/fault/check.py compares what they were told with what is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fault.check import Outcome, drain, evaluate
from tests.fault.scenario import OPTIONS, OTHER_ANSWERS, api_call, create_open_poll
from tests.fault.voter import Voter
from tests.support import isolation
from tests.support.eventually import eventually, eventually_sync
from tests.support.isolation import Resources
from tests.support.limits import RELAXED_LIMITS
from tests.support.procs import PREFIXES, free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "infra" / "scripts"
STACK_ENV = {
    **RELAXED_LIMITS,
    "WS_GATEWAY_RATE_LIMIT_ENABLED": "false",
    "POLL_API_RATE_LIMIT_ENABLED": "false",
    "WS_GATEWAY_TALLY_INTERVAL_MS": "250",
    "ZEPHYR_LOG_LEVEL": "WARNING",
}
RELEASE = re.compile(r"^\[deploy\] rolling out release (\S+) ", re.M)

pytestmark = pytest.mark.e2e


@dataclass
class RunningStack:
    proc: subprocess.Popen[bytes]
    env: dict[str, str]
    run_dir: Path
    log: Path
    ports: dict[str, int]
    resources: Resources
    deploy_logs: list[str] = field(default_factory=list)

    def state(self) -> dict[str, Any]:
        services: dict[str, Any] = json.loads((self.run_dir / "stack.json").read_text())["services"]
        return services

    def pids(self) -> dict[str, int]:
        return {name: svc["current"]["pid"] for name, svc in self.state().items()}

    def url(self, name: str, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.ports[name]}"

    def tail(self, lines: int = 80) -> str:
        text = self.log.read_text(errors="replace").splitlines()
        ours = [line for line in text if line.startswith(("[zephyr]", "[deploy]", "[smoke]"))]
        return "\n".join(ours[-lines:])

    async def deploy(self, *args: str) -> tuple[int, str]:
        """Run `deploy.py` to its end; its exit status and output."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SCRIPTS / "deploy.py"),
            *args,
            env=self.env,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 240)
        text = out.decode(errors="replace")
        self.deploy_logs.append(text)
        print(text)  # shown with the test's failure (or -rP)
        assert proc.returncode is not None
        return proc.returncode, text


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    res = asyncio.run(isolation.create("dp"))
    base = tmp_path_factory.mktemp("deploy")
    ports = {name: free_port() for name in PREFIXES}
    env = {**os.environ, **STACK_ENV, **res.env(), "ZEPHYR_RUN_DIR": str(base / "run")}
    env.pop("WS_GATEWAY_POLL_API_URL", None)
    env.update({f"{PREFIXES[name]}PORT": str(port) for name, port in ports.items()})
    log = base / "devstack.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, str(SCRIPTS / "devstack.py"), "run"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    running = RunningStack(proc, env, base / "run", log, ports, res)
    try:
        eventually_sync(
            lambda: proc.poll() is not None or (running.run_dir / "stack.json").exists(),
            timeout=120,
            interval=0.2,
            what="devstack start-up",
        )
        assert proc.poll() is None, running.tail()
        yield running
    except BaseException:
        print(running.tail(), *running.deploy_logs, sep="\n")
        raise
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait(timeout=10)
        asyncio.run(isolation.destroy(res))
        print(running.tail(200))  # the supervisor's lines: shown with -rP or a failure
        assert code == 0, f"devstack exited with {code}:\n{running.tail()}"
        assert not (running.run_dir / "stack.json").exists()


@dataclass
class Load:
    """Participants voting through the public gateway port until `stop`."""

    stack: RunningStack
    participants: int
    poll: dict[str, Any] = field(default_factory=dict)
    voters: list[Voter] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self, name: str) -> Load:
        self.poll = await create_open_poll(self.stack.url("poll_api"), f"Deploy: {name}")
        url = f"{self.stack.url('ws_gateway', 'ws')}/ws/{self.poll['room_code']}"
        self.voters = [Voter([url], f"{name}-{i}", home=0) for i in range(self.participants)]
        deadline = time.monotonic() + 200
        joining = asyncio.Semaphore(50)

        async def join(voter: Voter) -> None:
            async with joining:
                await voter.connect_and_join(deadline)

        await asyncio.gather(*(join(v) for v in self.voters))
        rng = random.Random(name)
        self.tasks = [asyncio.create_task(self._vote(v, rng, deadline)) for v in self.voters]
        await eventually(lambda: self.accepted() >= self.participants, timeout=60, what="votes")
        return self

    async def _vote(self, voter: Voter, rng: random.Random, deadline: float) -> None:
        while not self.stopping.is_set():
            voter.make_plan(3, len(OPTIONS), rng, OTHER_ANSWERS)
            await voter.run(3, deadline)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), rng.uniform(2.0, 4.0))

    def accepted(self) -> int:
        return sum(len(v.accepted) for v in self.voters)

    async def finish(self) -> Outcome:
        """Stop voting, close the poll, wait for the votes to settle and count."""
        self.stopping.set()
        await asyncio.gather(*self.tasks)
        room, token = self.poll["room_code"], self.poll["host_token"]
        headers = {"Authorization": f"Bearer {token}"}
        api = self.stack.url("poll_api")
        await api_call("POST", f"{api}/api/polls/{room}/close", headers=headers, ok=(200, 409))
        db = self.stack.resources.database_url
        stored = await drain(db, self.poll["id"], len(OPTIONS), self.voters, timeout=120)
        outcome = Outcome(scenario="deploy", participants=self.participants)
        evaluate(outcome, self.voters, stored)
        await asyncio.gather(*(v.close() for v in self.voters))
        return outcome


def test_without_a_running_stack_nothing_is_done(tmp_path: Path) -> None:
    env = {**os.environ, "ZEPHYR_RUN_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / "deploy.py")], env=env, capture_output=True, text=True
    )
    assert done.returncode == 2, done
    assert "FAIL no running stack" in done.stdout and "make run" in done.stdout, done.stdout
    bad = [sys.executable, str(SCRIPTS / "deploy.py"), "--only", "nginx"]
    done = subprocess.run(bad, env=env, capture_output=True, text=True)
    assert done.returncode == 2 and "--only takes some of" in done.stderr, done
    assert not list(tmp_path.iterdir()), "a refused deploy left something behind"


async def test_a_second_deploy_meanwhile_is_refused(stack: RunningStack) -> None:
    before = stack.pids()
    # Another deploy's session, by the documented protocol: one JSON request per line.
    with socket.socket(socket.AF_UNIX) as holder:
        holder.connect(str(stack.run_dir / "control.sock"))
        holder.sendall(b'{"op": "begin"}\n')
        assert json.loads(holder.makefile("rb").readline()) == {"ok": True}
        code, out = await stack.deploy("--only", "ws-gateway")
    assert code == 2, out
    assert "FAIL nothing changed: another deploy is running" in out, out
    assert stack.pids() == before


async def test_a_new_gateway_that_never_gets_ready_is_rolled_back(stack: RunningStack) -> None:
    before = stack.pids()
    load = await Load(stack, participants=20).start("unready")
    accepted_before = load.accepted()
    code, out = await stack.deploy(
        "--only",
        "ws-gateway",
        "--env",
        "ws-gateway:WS_GATEWAY_REDIS_URL=redis://127.0.0.1:1/0",
        "--ready-timeout",
        "15",
    )
    assert code == 1, out
    assert re.search(r"FAIL ws_gateway: pid \d+ not ready within 15 s", out), out
    assert "; the old process kept serving" in out and "rolled back:" in out, out
    assert load.accepted() > accepted_before, "votes stopped being accepted during the deploy"
    outcome = await load.finish()
    assert (outcome.lost, outcome.duplicated) == (0, 0), outcome.details
    assert all(v.reconnects == 0 for v in load.voters), "the old gateway dropped participants"
    assert stack.pids() == before and all(alive(pid) for pid in before.values())
    assert stack.state()["ws_gateway"]["next"] is None
    async with httpx.AsyncClient(timeout=5) as http:
        assert (await http.get(f"{stack.url('ws_gateway')}/health/ready")).is_success


async def test_a_new_gateway_failing_the_smoke_check_rolls_back_the_whole_deploy(
    stack: RunningStack,
) -> None:
    """The worker is replaced first; the gateway fails; the worker goes back to its release."""
    before, worker = stack.pids(), stack.state()["vote_worker"]
    load = await Load(stack, participants=20).start("smoke")
    accepted_before = load.accepted()
    # Ready, but it refuses the smoke check's handshake (no Origin header): a broken setting.
    code, out = await stack.deploy(
        "--only",
        "vote-worker,ws-gateway",
        "--env",
        "ws-gateway:WS_GATEWAY_ALLOW_MISSING_ORIGIN=false",
    )
    assert code == 1, out
    assert re.search(r"vote_worker: smoke check passed through pid \d+", out), out
    assert re.search(r"ws_gateway: pid \d+ ready after", out), out
    assert re.search(r"FAIL ws_gateway: smoke check failed: .*403", out), out
    assert f"vote_worker: rolling back to release {worker['release']}" in out, out
    assert re.search(r"rolled back: .*reason: ws_gateway: smoke check failed", out), out
    assert load.accepted() > accepted_before, "votes stopped being accepted during the deploy"
    outcome = await load.finish()
    assert (outcome.lost, outcome.duplicated) == (0, 0), outcome.details
    assert all(v.reconnects == 0 for v in load.voters), "the old gateway dropped participants"
    after = stack.pids()
    assert {n: p for n, p in after.items() if n != "vote_worker"} == {
        n: p for n, p in before.items() if n != "vote_worker"
    }
    assert all(alive(pid) for name, pid in before.items() if name != "vote_worker")
    assert after["vote_worker"] != before["vote_worker"]
    assert stack.state()["vote_worker"]["release"] == worker["release"]


async def test_a_new_worker_failing_the_smoke_check_gives_way_to_the_previous_release(
    stack: RunningStack,
) -> None:
    """A consumer is checked after the old one drained: the roll back starts the old release."""
    before = stack.state()["vote_worker"]
    # Ready, but it holds every vote for 10 minutes: the smoke check's tally never comes.
    code, out = await stack.deploy(
        "--only",
        "vote-worker",
        "--env",
        "vote-worker:VOTE_WORKER_BATCH_MAX_WAIT_MS=600000",
        "--smoke-timeout",
        "10",
    )
    assert code == 1, out
    assert re.search(r"FAIL vote_worker: smoke check failed", out), out
    assert f"vote_worker: rolling back to release {before['release']}" in out, out
    after = stack.state()["vote_worker"]
    assert after["release"] == before["release"] and after["overrides"] == [], after
    assert after["current"]["pid"] != before["current"]["pid"] and not after["draining"]
    assert not alive(before["current"]["pid"])
    async with httpx.AsyncClient(timeout=5) as http:
        assert (await http.get(f"{stack.url('vote_worker')}/health/ready")).is_success


async def test_a_rolling_update_under_load_loses_and_duplicates_nothing(
    stack: RunningStack,
) -> None:
    before = stack.pids()
    load = await Load(stack, participants=200).start("roll")
    code, out = await stack.deploy()
    assert code == 0, out
    release = RELEASE.search(out)
    assert release, out
    state = stack.state()
    for name, old_pid in before.items():
        assert state[name]["current"]["pid"] != old_pid, f"{name} was not replaced"
        assert state[name]["release"] == release[1]
        assert not state[name]["draining"] and not alive(old_pid), f"old {name} still runs"
    # Every participant was closed with 1012 by the old gateway and resumed on the new one.
    await eventually(
        lambda: all(v.reconnects >= 1 and v.connected for v in load.voters),
        timeout=60,
        what="every participant resumed",
    )
    resumed_at = load.accepted()
    await eventually(lambda: load.accepted() > resumed_at + 200, timeout=60, what="new votes")
    outcome = await load.finish()
    print(outcome.row(), outcome.details["reconnects"], outcome.details["errors"])
    assert outcome.accepted > 0 and outcome.stored == outcome.accepted, outcome.details
    assert (outcome.lost, outcome.duplicated) == (0, 0), outcome.details
    # The drained processes were never restarted; the new ones are supervised like the old were.
    assert "restarting in" not in stack.tail(400), stack.tail()
    new_worker = stack.pids()["vote_worker"]
    os.kill(new_worker, signal.SIGKILL)

    def restarted() -> bool:
        worker = stack.state()["vote_worker"]
        return worker["current"]["pid"] != new_worker and worker["release"] == release[1]

    await eventually(restarted, timeout=30, what="the new worker restarted")
    assert "vote_worker exited with SIGKILL; restarting in 0.5 s" in stack.tail(), stack.tail()

    async def ready() -> bool:
        try:
            async with httpx.AsyncClient(timeout=5) as http:
                return (await http.get(f"{stack.url('vote_worker')}/health/ready")).is_success
        except httpx.HTTPError:  # still starting: the relay finds nobody on its port
            return False

    await eventually(ready, timeout=30, what="the restarted worker ready on the public port")
