"""Background loops: a step runs until stop; stop waits for it, within a bound; wake and pause."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from poll_api.background import BackgroundLoop
from tests.support.eventually import eventually
from zephyr_runtime.resilience import Stopping


@dataclass(kw_only=True, eq=False)
class Counting(BackgroundLoop):
    """Counts steps; each step takes `step_seconds`, then pauses `pause_seconds`."""

    step_seconds: float = 0.0
    pause_seconds: float = 10.0
    started: int = 0
    finished: int = 0
    stop_with: BaseException | None = None

    async def step(self) -> None:
        self.started += 1
        await asyncio.sleep(self.step_seconds)
        self.finished += 1
        if self.stop_with is not None:
            raise self.stop_with
        await self.pause(self.pause_seconds)


async def test_stop_lets_the_step_in_flight_finish() -> None:
    loop = Counting(step_seconds=0.2)
    loop.start()
    await eventually(lambda: loop.started == 1)
    await loop.stop(timeout=5)
    assert (loop.started, loop.finished) == (1, 1)


async def test_a_step_longer_than_the_stop_timeout_is_cancelled() -> None:
    loop = Counting(step_seconds=30)
    loop.start()
    await eventually(lambda: loop.started == 1)
    began = time.monotonic()
    await loop.stop(timeout=0.1)
    assert time.monotonic() - began < 2
    assert loop.finished == 0


async def test_wake_ends_a_pause_and_stop_ends_the_loop() -> None:
    loop = Counting(pause_seconds=30)
    loop.start()
    await eventually(lambda: loop.finished == 1)
    loop.wake()
    await eventually(lambda: loop.finished == 2, what="a second step right after wake()")
    began = time.monotonic()
    await loop.stop(timeout=5)
    assert time.monotonic() - began < 2  # the pause does not hold the stop up


async def test_a_step_that_raises_stopping_ends_the_loop() -> None:
    loop = Counting(stop_with=Stopping("shutting down"))
    loop.start()
    await eventually(lambda: loop.finished == 1)
    await asyncio.sleep(0.05)
    assert loop.started == 1  # not run again
    await loop.stop(timeout=1)
