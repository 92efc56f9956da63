"""`python -m poll_api` as an operator runs it: serve, migrate, bad config, SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.isolation import Resources
from tests.support.procs import ServiceProcess, free_port


@contextmanager
def _serving(resources: Resources, tmp_path: Path) -> Iterator[ServiceProcess]:
    """`python -m poll_api` on a free port, ready; sent SIGTERM at the end if still running."""
    service = ServiceProcess(
        package="poll_api",
        port=free_port(),
        env=resources.env(),
        log_path=tmp_path / "poll_api.log",
    ).start()
    try:
        service.wait_ready()
        yield service
    finally:
        service.stop(grace=20)


def test_serves_until_sigterm_then_exits_zero(resources: Resources, tmp_path: Path) -> None:
    with _serving(resources, tmp_path) as service:
        created = httpx.post(
            f"{service.url}/api/polls",
            json={"question": "From a process?", "options": ["yes", "no"]},
            timeout=10,
        )
        assert created.status_code == 201
        code = created.json()["room_code"]
        assert httpx.get(f"{service.url}/api/polls/{code}", timeout=10).json()["status"] == "draft"
    assert service.stop() == 0, service.tail()
    assert '"service":"poll-api"' in service.tail(200)


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "poll_api", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_migrate_command_is_idempotent(resources: Resources) -> None:
    result = _run(["migrate"], resources.env())
    assert result.returncode == 0, result.stderr


def test_invalid_configuration_exits_2_with_a_clear_message(resources: Resources) -> None:
    result = _run(["serve"], {**resources.env(), "POLL_API_DEFAULT_EXPIRY_DAYS": "0"})
    assert result.returncode == 2
    assert "POLL_API_DEFAULT_EXPIRY_DAYS" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_command_exits_2(resources: Resources) -> None:
    result = _run(["dance"], resources.env())
    assert result.returncode == 2
    assert "usage" in result.stderr


def test_sigint_also_stops_cleanly(resources: Resources, tmp_path: Path) -> None:
    with _serving(resources, tmp_path) as service:
        assert service.proc is not None
        service.proc.send_signal(signal.SIGINT)
        assert service.proc.wait(timeout=20) == 0
