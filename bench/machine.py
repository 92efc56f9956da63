"""What the figures were measured on: cores, memory, CPU model, kernel, versions, git commit."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = (
    "websockets",
    "aio-pika",
    "aiormq",
    "faststream",
    "asyncpg",
    "redis",
    "hiredis",
    "pydantic",
    "orjson",
    "uvloop",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_bytes() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _command(*args: str) -> str | None:
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def git_commit() -> dict[str, Any]:
    root = Path(__file__).resolve().parent.parent
    commit = _command("git", "-C", str(root), "rev-parse", "HEAD")
    status = _command("git", "-C", str(root), "status", "--porcelain")
    return {"commit": commit, "dirty": bool(status)}


def details() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "memory_bytes": _memory_bytes(),
        "cpu_model": _cpu_model(),
        "kernel": platform.release(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in PACKAGES},
        "servers": {
            "postgresql": _command("psql", "--version"),
            "redis": _command("redis-server", "--version"),
            "rabbitmq": _command("dpkg-query", "-W", "-f=${Version}", "rabbitmq-server"),
            "haproxy": _command("dpkg-query", "-W", "-f=${Version}", "haproxy"),
        },
        "load_average": list(os.getloadavg()),
        "git": git_commit(),
    }
