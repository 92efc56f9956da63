"""Keep `make run`'s services running, like a small init system.

A service that exits (any status, or killed by a signal) is started again after a back-off that
doubles from 0.5 s to 10 s and resets once a run stayed up 30 s. One line is printed per event:

    [zephyr] <service> exited with <code|signal name>; restarting in <s> s (restart <n>)
    [zephyr] <service> is back                  (its /health/ready answered 200 again)

A crash loop (5 exits within 60 s) stops restarting that one service, said once, naming it; the
others keep serving. Only `stop()` (Ctrl-C or SIGTERM) ends supervision.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field

import httpx

FIRST_DELAY_S = 0.5
MAX_DELAY_S = 10.0
RESET_AFTER_S = 30.0
CRASH_LOOP = (5, 60.0)  # this many exits within this many seconds: stop restarting


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


@dataclass
class Service:
    """One supervised process: how to start it, and its restart history."""

    name: str
    env: dict[str, str]
    url: str
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    delay: float = FIRST_DELAY_S
    restarts: int = 0
    exits: deque[float] = field(default_factory=deque)
    restart_at: float | None = None
    awaiting_ready: bool = False
    given_up: bool = False

    def spawn(self) -> subprocess.Popen[bytes]:
        # Own session: Ctrl-C reaches only the supervisor, which stops the services in order.
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.name], env=self.env, start_new_session=True
        )
        self.started_at = time.monotonic()
        say(f"{self.name} started (pid {self.proc.pid})")
        return self.proc


class Supervisor:
    """Restarts exited services with back-off until `stop()`; gives up on crash loops."""

    def __init__(self, crash_loop: tuple[int, float] = CRASH_LOOP) -> None:
        self.services: dict[str, Service] = {}
        self.loop_exits, self.loop_window = crash_loop

    def start(self, name: str, env: dict[str, str], url: str, timeout: float = 60) -> None:
        """First start: wait for readiness; exit the program with the reason when it fails."""
        svc = self.services[name] = Service(name=name, env=env, url=url)
        proc = svc.spawn()
        deadline = time.monotonic() + timeout
        while not answers_ready(url, timeout=2):
            if proc.poll() is not None:
                raise SystemExit(f"[zephyr] {name} exited with {proc.returncode} while starting")
            if time.monotonic() > deadline:
                raise SystemExit(f"[zephyr] {name} was not ready after {timeout:.0f}s")
            time.sleep(0.2)

    def tick(self) -> None:
        """One supervision round: notice exits, restart when due, announce readiness."""
        now = time.monotonic()
        for svc in self.services.values():
            if svc.given_up or svc.proc is None:
                continue
            if svc.restart_at is not None:
                if now >= svc.restart_at:
                    svc.restart_at = None
                    svc.awaiting_ready = True
                    svc.spawn()
            elif svc.proc.poll() is not None:
                self._exited(svc, svc.proc.returncode, now)
            elif svc.awaiting_ready and answers_ready(svc.url):
                svc.awaiting_ready = False
                say(f"{svc.name} is back")

    def _exited(self, svc: Service, returncode: int, now: float) -> None:
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
        if now - svc.started_at >= RESET_AFTER_S:
            svc.delay = FIRST_DELAY_S
        svc.restarts += 1
        svc.restart_at = now + svc.delay
        say(
            f"{svc.name} exited with {describe_exit(returncode)}; "
            f"restarting in {svc.delay:g} s (restart {svc.restarts})"
        )
        svc.delay = min(svc.delay * 2, MAX_DELAY_S)

    def stop(self, grace: float = 30) -> None:
        """SIGTERM every running service, wait for each (kill after `grace` seconds)."""
        running = [s.proc for s in self.services.values() if s.proc and s.proc.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        for svc in self.services.values():
            if svc.proc is None:
                continue
            try:
                svc.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                say(f"{svc.name} did not stop in time; killing it")
                svc.proc.kill()
                svc.proc.wait(timeout=10)
        say("stopped")
