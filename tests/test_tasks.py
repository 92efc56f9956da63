"""`cancel_and_wait` stops a task that swallows its cancellation (unit test of logic)."""

from __future__ import annotations

import asyncio

from zephyr_runtime.tasks import cancel_all, cancel_and_wait


async def _stubborn(swallow: int, stopped: list[int]) -> None:
    """Loops like a sampler whose inner wait lost the first `swallow` cancellations."""
    while True:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            if swallow == 0:
                stopped.append(1)
                raise
            swallow -= 1


async def test_a_task_that_swallows_cancellations_is_cancelled_again_until_it_ends() -> None:
    stopped: list[int] = []
    task = asyncio.create_task(_stubborn(3, stopped))
    await asyncio.sleep(0)
    assert await cancel_and_wait(task, timeout=5)
    assert task.cancelled() and stopped == [1]


async def test_a_task_that_never_ends_is_given_up_after_the_bound() -> None:
    release = asyncio.Event()

    async def immortal() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(immortal())
    await asyncio.sleep(0)
    assert not await cancel_and_wait(task, timeout=0.5)
    assert not task.done()
    release.set()
    task.cancel()
    await asyncio.wait({task}, timeout=1)
    assert task.done()


async def test_a_failed_or_finished_task_counts_as_stopped() -> None:
    async def boom() -> None:
        raise RuntimeError("gone")

    failed = asyncio.create_task(boom())
    finished = asyncio.create_task(asyncio.sleep(0))
    await asyncio.sleep(0.01)
    assert await cancel_all([failed, finished], timeout=1)
