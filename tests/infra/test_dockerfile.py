"""The one Dockerfile: its entry point runs the service's own command with the container's args.

No Docker engine here, so the ENTRYPOINT and CMD lines are run as the image runs them (exec form,
`sh -c`), with `echo` standing in for the service's console script.
"""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("poll-api", "ws-gateway", "vote-worker", "audit-sink")


def _instruction(name: str) -> list[str]:
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith(f"{name} "):
            value: list[str] = json.loads(line[len(name) + 1 :])
            return value
    raise AssertionError(f"no {name} in the Dockerfile")


@pytest.mark.parametrize(("args", "runs"), [([], "serve"), (["migrate"], "migrate")])
def test_the_entry_point_hands_the_args_to_the_service(args: list[str], runs: str) -> None:
    command = _instruction("ENTRYPOINT") + (args or _instruction("CMD"))
    done = subprocess.run(
        command, env={"ZEPHYR_SERVICE": "echo", "PATH": "/usr/bin:/bin"}, capture_output=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().strip() == runs


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_the_console_script_the_image_runs(service: str) -> None:
    project = tomllib.loads((ROOT / "services" / service / "pyproject.toml").read_text())
    assert project["project"]["scripts"][service] == f"{service.replace('-', '_')}.__main__:main"
