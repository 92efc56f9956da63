"""Keep `make run`'s services running, like a small init system, and swap them for `make deploy`.

A service that exits (any status, or killed by a signal) is started again after a back-off that
doubles from 0.5 s to 10 s and resets once a run stayed up 30 s. One line is printed per event:

    [zephyr] <service> exited with <code|signal name>; restarting in <s> s (restart <n>)
    [zephyr] <service> is back                  (its /health/ready answered 200 again)

A crash loop (5 exits within 60 s) stops restarting that one service, said once, naming it; the
others keep serving. Only `stop()` (Ctrl-C or SIGTERM) ends supervision.

Each process listens on a private port of its own; the public port is the relay's
(deploy_relay.py), routed to the service's current process. Beside it a service may have a
*next* process, started for a rolling update (deploy_swaps.py), and old ones *retiring*: those
drain after their SIGTERM, are never restarted, and are killed if they outlive RETIRE_GRACE_S.
A restart starts the release the service runs (deploy_release.py).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from deploy_release import Release

FIRST_DELAY_S = 0.5
MAX_DELAY_S = 10.0
RESET_AFTER_S = 30.0
CRASH_LOOP = (5, 60.0)  # this many exits within this many seconds: stop restarting
RETIRE_GRACE_S = 60.0  # a drained process that has not exited by then is killed


def describe_exit(returncode: int) -> str:
    """`3` for an exit status, `SIGKILL` for a process killed by a signal."""
    if returncode >= 0:
        return str(returncode)
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def say(line: str) -> None:
    print(f"[zephyr] {line}", flush=True)


def answers_ready(url: str, timeout: float = 1.0) -> bool:
    try:
        return httpx.get(f"{url}/health/ready", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    """One OS process of a service, with the release and settings it was started with."""

    proc: subprocess.Popen[bytes]
    port: int
    release: str
    overrides: dict[str, str]
    started_at: float = field(default_factory=time.monotonic)
    session: int | None = None  # the deploy session that started it (a next process)
    kill_at: float | None = None  # when draining: kill it if still running then
    exit_noted: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def describe(self) -> dict[str, Any]:
        code = self.proc.poll()
        return {
            "pid": self.proc.pid,
            "port": self.port,
            "release": self.release,
            "exited": None if code is None else describe_exit(code),
        }


@dataclass
class Service:
    """One supervised service: its current process, a next one being tried, old ones draining."""

    name: str
    prefix: str
    env: dict[str, str]  # as `make run` started it (overrides come on top)
    public_port: int
    release: Release
    overrides: dict[str, str] = field(default_factory=dict)
    current: Process | None = None
    next: Process | None = None
    retiring: list[Process] = field(default_factory=list)
    delay: float = FIRST_DELAY_S
    restarts: int = 0
    exits: deque[float] = field(default_factory=deque)
    restart_at: float | None = None
    awaiting_ready: bool = False
    given_up: bool = False

    def environment(self, overrides: dict[str, str]) -> dict[str, str]:
        return {**self.env, **overrides}

    def spawn(self, release: Release, overrides: dict[str, str]) -> Process:
        port = free_port()
        env = {
            **self.environment(overrides),
            f"{self.prefix}HOST": "127.0.0.1",  # private: the public port is the relay's
            f"{self.prefix}PORT": str(port),
            "PYTHONPATH": release.pythonpath,
        }
        # Own session: Ctrl-C reaches only the supervisor, which stops the services in order.
        proc = subprocess.Popen([sys.executable, "-m", self.name], env=env, start_new_session=True)
        return Process(proc, port, release.id, dict(overrides))


class Supervisor:
    """Restarts exited services with back-off until `stop()`; gives up on crash loops."""

    def __init__(
        self,
        releases: Path,
        route: Callable[[str, int], None],
        crash_loop: tuple[int, float] = CRASH_LOOP,
    ) -> None:
        self.services: dict[str, Service] = {}
        self.releases = releases
        self.route = route  # point the service's public port at a private one
        self.on_change: Callable[[], None] = lambda: None
        self.loop_exits, self.loop_window = crash_loop

    def start(
        self,
        name: str,
        prefix: str,
        env: dict[str, str],
        public_port: int,
        release: Release,
        timeout: float = 60,
    ) -> None:
        """First start: wait for readiness; exit the program with the reason when it fails."""
        svc = self.services[name] = Service(name, prefix, env, public_port, release)
        current = self._spawn_current(svc)
        deadline = time.monotonic() + timeout
        while not answers_ready(current.url, timeout=2):
            if current.proc.poll() is not None:
                raise SystemExit(
                    f"[zephyr] {name} exited with {current.proc.returncode} while starting"
                )
            if time.monotonic() > deadline:
                raise SystemExit(f"[zephyr] {name} was not ready after {timeout:.0f}s")
            time.sleep(0.2)

    def _spawn_current(self, svc: Service) -> Process:
        svc.current = svc.spawn(svc.release, svc.overrides)
        self.route(svc.name, svc.current.port)
        say(f"{svc.name} started (pid {svc.current.proc.pid})")
        self.on_change()
        return svc.current

    def tick(self) -> None:
        """One supervision round: notice exits, restart when due, announce readiness."""
        now = time.monotonic()
        for svc in self.services.values():
            self._reap(svc, now)
            current = svc.current
            if svc.given_up or current is None:
                continue
            if svc.restart_at is not None:
                if now >= svc.restart_at:
                    svc.restart_at = None
                    svc.awaiting_ready = True
                    self._spawn_current(svc)
            elif current.proc.poll() is not None:
                self._exited(svc, current, now)
            elif svc.awaiting_ready and answers_ready(current.url):
                svc.awaiting_ready = False
                say(f"{svc.name} is back")

    def _reap(self, svc: Service, now: float) -> None:
        """Draining processes are never restarted: note their exit, kill the ones too slow."""
        for old in list(svc.retiring):
            code = old.proc.poll()
            if code is not None:
                svc.retiring.remove(old)
                say(f"{svc.name} (pid {old.proc.pid}) stopped: exited with {describe_exit(code)}")
                self.on_change()
            elif old.kill_at is not None and now >= old.kill_at:
                say(f"{svc.name} (pid {old.proc.pid}) did not stop in time; killing it")
                old.proc.kill()
                old.kill_at = None
        nxt = svc.next
        if nxt is not None and not nxt.exit_noted and nxt.proc.poll() is not None:
            nxt.exit_noted = True
            status = describe_exit(nxt.proc.returncode)
            say(f"{svc.name}: the next process (pid {nxt.proc.pid}) exited with {status}")
            self.on_change()

    def _exited(self, svc: Service, current: Process, now: float) -> None:
        svc.exits.append(now)
        while svc.exits and now - svc.exits[0] > self.loop_window:
            svc.exits.popleft()
        if len(svc.exits) >= self.loop_exits:
            svc.given_up = True
            say(
                f"{svc.name} exited {len(svc.exits)} times in {self.loop_window:g} s: "
                "not restarting it; the others keep serving"
            )
            return
        if now - current.started_at >= RESET_AFTER_S:
            svc.delay = FIRST_DELAY_S
        svc.restarts += 1
        svc.restart_at = now + svc.delay
        say(
            f"{svc.name} exited with {describe_exit(current.proc.returncode)}; "
            f"restarting in {svc.delay:g} s (restart {svc.restarts})"
        )
        svc.delay = min(svc.delay * 2, MAX_DELAY_S)

    def state(self) -> dict[str, Any]:
        """Per service, what stack.json shows (no environment values)."""
        return {
            name: {
                "current": svc.current.describe() if svc.current else None,
                "next": svc.next.describe() if svc.next else None,
                "draining": [p.proc.pid for p in svc.retiring],
                "public_port": svc.public_port,
                "release": svc.release.id,
                "overrides": sorted(svc.overrides),
                "given_up": svc.given_up,
            }
            for name, svc in self.services.items()
        }

    def stop(self, grace: float = 30) -> None:
        """SIGTERM every running process, wait for each (kill after `grace` seconds)."""
        processes = [
            (svc.name, p)
            for svc in self.services.values()
            for p in (svc.current, svc.next, *svc.retiring)
            if p is not None
        ]
        for _, p in processes:
            if p.proc.poll() is None:
                p.proc.send_signal(signal.SIGTERM)
        for name, p in processes:
            try:
                p.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop in time; killing it")
                p.proc.kill()
                p.proc.wait(timeout=10)
        say("stopped")


def releases_in_use(supervisor: Supervisor) -> set[str]:
    """The releases some process runs or may be restarted with (pruning keeps them)."""
    used = {svc.release.id for svc in supervisor.services.values()}
    used |= {svc.next.release for svc in supervisor.services.values() if svc.next}
    # A draining process may still import a module on its way out: keep its release too.
    return used | {p.release for svc in supervisor.services.values() for p in svc.retiring}
