"""The gateway's periodic samples: dependency health (`zephyr_dependency_up`) and memory limit."""

from __future__ import annotations

from ws_gateway.context import GatewayContext
from zephyr_runtime.health import run_checks
from zephyr_runtime.opsmetrics import sample_memory_limit
from zephyr_runtime.sampler import PeriodicSampler


def build_sampler(ctx: GatewayContext) -> PeriodicSampler:
    async def dependencies() -> None:
        async def redis() -> None:
            await ctx.redis.ping()

        # The same checks as /health/ready; run_checks exports them as gauges.
        await run_checks({"redis": redis, "rabbitmq": ctx.live.check})

    return PeriodicSampler(
        [dependencies, sample_memory_limit], interval=ctx.settings.metrics_sample_seconds
    )
