"""Every service's /health/live and /health/ready: each dependency's status and latency, 503
when one is down."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.isolation import Resources
from tests.support.procs import ServiceProcess, Stack, free_port

pytestmark = pytest.mark.e2e

# The dependencies each service must report (more are allowed).
DEPENDENCIES = {
    "poll_api": {"postgres", "redis", "rabbitmq"},
    "ws_gateway": {"redis", "rabbitmq"},
    "vote_worker": {"postgres", "redis", "rabbitmq"},
    "audit_sink": {"postgres", "rabbitmq"},
}


def assert_report_shape(body: dict[str, Any], service: str, healthy: bool) -> None:
    assert body["status"] == ("ready" if healthy else "unavailable"), body
    checks = body["checks"]
    assert DEPENDENCIES[service] <= set(checks), checks
    for name, check in checks.items():
        assert isinstance(check["ok"], bool), (name, check)
        assert isinstance(check["latency_ms"], int | float) and check["latency_ms"] >= 0
        if not check["ok"]:
            assert isinstance(check["error"], str) and check["error"], (name, check)


def test_every_service_reports_each_dependency(traced_stack: Stack) -> None:
    for name in DEPENDENCIES:
        svc = traced_stack[name]
        live = httpx.get(f"{svc.url}/health/live", timeout=10)
        assert live.status_code == 200 and live.json()["status"] == "ok"
        ready = httpx.get(f"{svc.url}/health/ready", timeout=10)
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert_report_shape(body, name, healthy=True)
        assert all(check["ok"] for check in body["checks"].values())


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Redis of our own, so that we can stop it (the machine's shared one stays up)."""
    exe = shutil.which("redis-server")
    assert exe, "redis-server is needed (Debian package redis-server)"
    port = free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "private redis did not start"
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def wait_status(
    svc: ServiceProcess, status: int, timeout: float = 60, up: str | None = None
) -> dict[str, Any]:
    """The first readiness report with `status` (and, with `up`, that dependency's check ok:
    a service still connecting to it at start-up reports it down for a moment)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        assert svc.proc is not None and svc.proc.poll() is None, svc.tail()
        try:
            resp = httpx.get(f"{svc.url}/health/ready", timeout=10)
            checks = resp.json().get("checks", {}) if resp.status_code == status else {}
            if resp.status_code == status and (up is None or checks.get(up, {}).get("ok")):
                return dict(resp.json())
            last = (resp.status_code, resp.text[:300])
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"{svc.package}: no {status} within {timeout}s (last: {last})")


def test_ready_answers_503_naming_the_dependency_that_is_down(
    ops_resources: Resources, private_redis: tuple[str, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    redis_url, redis_proc = private_redis
    env = {**ops_resources.env(), "ZEPHYR_REDIS_URL": redis_url}
    stack = Stack(env=env, log_dir=tmp_path)
    # audit-sink has no Redis: its database is the dependency that is down (nothing listens).
    dead_db = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    try:
        api = stack.add("poll_api", "poll_api").start()
        api.wait_ready()
        gateway_env = {"WS_GATEWAY_POLL_API_URL": api.url}
        workers = [
            stack.add("ws_gateway", "ws_gateway", gateway_env).start(),
            stack.add("vote_worker", "vote_worker").start(),
        ]
        for svc in workers:
            svc.wait_ready()
        sink = stack.add("audit_sink", "audit_sink", {"AUDIT_SINK_DATABASE_URL": dead_db}).start()
        body = wait_status(sink, 503, up="rabbitmq")
        assert_report_shape(body, "audit_sink", healthy=False)
        assert body["checks"]["postgres"]["ok"] is False
        assert body["checks"]["rabbitmq"]["ok"] is True

        redis_proc.kill()
        redis_proc.wait(timeout=10)
        for svc in (api, *workers):
            body = wait_status(svc, 503)
            assert_report_shape(body, svc.package, healthy=False)
            assert body["checks"]["redis"]["ok"] is False, body
            assert body["checks"]["rabbitmq"]["ok"] is True, body
            live = httpx.get(f"{svc.url}/health/live", timeout=10)
            assert live.status_code == 200  # alive: it waits for Redis to come back
    finally:
        codes = stack.stop_all()
    assert all(code is not None for code in codes.values())
