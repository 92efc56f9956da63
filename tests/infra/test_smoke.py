"""infra/scripts/smoke.py, the deploy's smoke check, passes against a running stack and fails
(exit 1, the step named) against one that cannot take a vote."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.procs import Stack, free_port

SMOKE = Path(__file__).resolve().parents[2] / "infra" / "scripts" / "smoke.py"


def _smoke(api: str, ws: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SMOKE), "--api", api, "--ws", ws, "--timeout", "20"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_smoke_check_passes_through_the_running_services(infra_stack: Stack) -> None:
    ws = f"ws://127.0.0.1:{infra_stack['ws_gateway'].port}"
    result = _smoke(infra_stack["poll_api"].url, ws)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[smoke] ok   vote accepted" in result.stdout
    assert "[smoke] ok   tally seen with the vote" in result.stdout


def test_smoke_check_fails_when_no_gateway_answers(infra_stack: Stack) -> None:
    result = _smoke(infra_stack["poll_api"].url, f"ws://127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert "[smoke] ok   poll opened" in result.stdout
    assert "[smoke] FAIL" in result.stderr
