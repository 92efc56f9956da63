"""Background loops (the outbox relay, the state reconciler): start, wake, pause, stop.

A subclass's `step()` runs again and again until the loop is stopped. Stopping lets the step in
flight finish (bounded by a timeout), because cancelling a query mid-way breaks its connection;
a step that retries (`zephyr_runtime.resilience.retry` with `stopping=self.stopping`) ends with
`Stopping`, which ends the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import ClassVar

from zephyr_runtime.resilience import Stopping
from zephyr_runtime.tasks import cancel_and_wait


@dataclass(kw_only=True, eq=False)
class BackgroundLoop:
    task_name: ClassVar[str] = "background-loop"
    stopping: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _wake: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _task: asyncio.Task[None] | None = field(default=None, init=False)

    async def step(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self, timeout: float = 5.0) -> None:
        """Let the step in flight finish (cancelled after `timeout` seconds), then return."""
        self.stopping.set()
        self._wake.set()
        if self._task is not None:
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.shield(self._task)
            except TimeoutError:
                await cancel_and_wait(self._task)

    def wake(self) -> None:
        """End the current `pause` now (there is work to do)."""
        self._wake.set()

    async def pause(self, seconds: float) -> None:
        """Wait `seconds`, or less when woken or stopped."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        self._wake.clear()

    async def _run(self) -> None:
        with contextlib.suppress(Stopping):
            while not self.stopping.is_set():
                await self.step()
