"""Run Zephyr's services as real processes on free ports, as an operator would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.limits import RELAXED_LIMITS

PREFIXES = {
    "poll_api": "POLL_API_",
    "ws_gateway": "WS_GATEWAY_",
    "vote_worker": "VOTE_WORKER_",
    "audit_sink": "AUDIT_SINK_",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServiceProcess:
    package: str
    port: int
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    extra_args: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServiceProcess:
        env = {**os.environ, **self.env, f"{PREFIXES[self.package]}PORT": str(self.port)}
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.package, *self.extra_args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.package} exited with {self.proc.returncode}:\n{self.tail()}"
                )
            try:
                resp = httpx.get(f"{self.url}/health/ready", timeout=2)
                if resp.status_code == 200:
                    return
                last = f"{resp.status_code} {resp.text[:300]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.1)
        raise RuntimeError(f"{self.package} not ready after {timeout}s ({last}):\n{self.tail()}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=60)

    def stop(self, grace: float = 15.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Stack:
    """The four services, started in dependency order against one set of resources."""

    env: dict[str, str]
    log_dir: Path
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    def add(self, name: str, package: str, env: dict[str, str] | None = None) -> ServiceProcess:
        svc = ServiceProcess(
            package=package,
            port=free_port(),
            # Relaxed abuse limits first: all test traffic shares 127.0.0.1 (tests/security
            # passes tight ones in `env`).
            env={**RELAXED_LIMITS, **self.env, **(env or {})},
            log_path=self.log_dir / f"{name}.log",
        )
        self.services[name] = svc
        return svc

    def start_all(self, gateways: int = 1) -> Stack:
        api = self.add("poll_api", "poll_api").start()
        api.wait_ready()
        gateway_env = {"WS_GATEWAY_POLL_API_URL": api.url}
        workers = [self.add("vote_worker", "vote_worker"), self.add("audit_sink", "audit_sink")]
        gws = [self.add(f"ws_gateway{i or ''}", "ws_gateway", gateway_env) for i in range(gateways)]
        for svc in (*workers, *gws):
            svc.start()
        for svc in (*workers, *gws):
            svc.wait_ready()
        return self

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.services[name]

    def stop_all(self) -> dict[str, int | None]:
        return {name: svc.stop() for name, svc in reversed(list(self.services.items()))}


@contextmanager
def supervised(env: dict[str, str], log_dir: Path) -> Iterator[Stack]:
    """A Stack whose services are stopped with SIGTERM at the end and must exit cleanly.

    Any failure while it runs prints each service's log tail, so a broken start is readable.
    """
    stack = Stack(env=env, log_dir=log_dir)
    try:
        yield stack
    except Exception:
        for svc in stack.services.values():
            print(f"--- {svc.package} ---\n{svc.tail()}")
        raise
    finally:
        stop_cleanly(stack)


def stop_cleanly(stack: Stack) -> None:
    """SIGTERM every service; each must exit 0 (its log tail is printed when one does not)."""
    codes = stack.stop_all()
    bad = {name: code for name, code in codes.items() if code not in (0, None)}
    for name in bad:
        print(f"--- {name} ---\n{stack[name].tail()}")
    assert not bad, f"services did not stop cleanly on SIGTERM: {bad}"
