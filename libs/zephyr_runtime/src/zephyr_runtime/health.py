"""Readiness checks: each dependency's status and latency, in one shape for every service."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from zephyr_runtime.opsmetrics import DEPENDENCY_CHECK_SECONDS, DEPENDENCY_UP

Check = Callable[[], Awaitable[Any]]


async def run_checks(checks: dict[str, Check], timeout: float = 2.0) -> tuple[bool, dict[str, Any]]:
    """Run every check concurrently; returns (all ok, {name: {ok, latency_ms, error?}})."""

    async def one(check: Check) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                await check()
        except Exception as exc:
            return {
                "ok": False,
                "latency_ms": round((time.perf_counter() - started) * 1000, 2),
                "error": type(exc).__name__,
            }
        return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}

    names = list(checks)
    results = await asyncio.gather(*(one(checks[n]) for n in names))
    report = dict(zip(names, results, strict=True))
    record_dependencies(report)
    return all(r["ok"] for r in results), report


def record_dependencies(report: dict[str, Any]) -> None:
    """Export a readiness report as `zephyr_dependency_up` and `zephyr_dependency_check_seconds`."""
    for name, result in report.items():
        DEPENDENCY_UP.labels(name).set(1 if result["ok"] else 0)
        DEPENDENCY_CHECK_SECONDS.labels(name).set(result["latency_ms"] / 1000)


def dependency_sample(checks: dict[str, Check]) -> Callable[[], Awaitable[None]]:
    """A sampler step that runs the readiness checks, so `zephyr_dependency_up` stays fresh
    between readiness probes."""

    async def sample() -> None:
        await run_checks(checks)

    return sample
