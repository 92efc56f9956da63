"""zephyr_runtime.batching in memory: when a batch is due, what it takes, the flush loop."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from pydantic_settings import BaseSettings

from tests.support.eventually import eventually
from zephyr_runtime.batching import (
    Accumulator,
    Batcher,
    FlushRetry,
    max_batch_setting,
    max_wait_setting,
    prefetch_setting,
)


def _size(item: list[str]) -> int:
    return len(item)


def item(units: int) -> list[str]:
    return ["x"] * units


def accumulator(max_size: int, max_wait: float) -> Accumulator[list[str]]:
    return Accumulator(max_size=max_size, max_wait=max_wait, size=_size)


async def test_full_batch_is_due_at_once() -> None:
    acc = accumulator(max_size=10, max_wait=3600)
    first, second, third = item(6), item(4), item(3)
    for d in (first, second, third):
        acc.add(d)
    taken = await asyncio.wait_for(acc.next_batch(), 5)
    assert taken == [first, second]
    assert taken[0] is first and taken[1] is second
    assert acc.pending == 3


async def test_partial_batch_is_due_after_max_wait() -> None:
    acc = accumulator(max_size=1000, max_wait=0.01)
    only = item(2)
    acc.add(only)
    assert await asyncio.wait_for(acc.next_batch(), 5) == [only]
    assert acc.pending == 0


async def test_waits_for_the_first_item() -> None:
    acc = accumulator(max_size=1, max_wait=0)
    waiting = asyncio.create_task(acc.next_batch())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    d = item(1)
    acc.add(d)
    assert await asyncio.wait_for(waiting, 5) == [d]


async def test_close_releases_pending_then_ends() -> None:
    acc = accumulator(max_size=1000, max_wait=3600)
    d = item(3)
    acc.add(d)
    acc.close()
    assert await asyncio.wait_for(acc.next_batch(), 5) == [d]
    assert await asyncio.wait_for(acc.next_batch(), 5) == []


async def test_an_item_larger_than_a_batch_goes_alone_and_leftovers_follow_at_once() -> None:
    acc = accumulator(max_size=5, max_wait=3600)
    big, small = item(8), item(1)
    acc.add(big)
    acc.add(small)
    assert await asyncio.wait_for(acc.next_batch(), 5) == [big]
    # The leftover waited since before that batch: due now, not an hour later.
    assert await asyncio.wait_for(acc.next_batch(), 5) == [small]


def test_items_count_one_unit_by_default_and_report_the_pending_units() -> None:
    seen: list[int] = []
    acc: Accumulator[str] = Accumulator(max_size=10, max_wait=1, on_change=seen.append)
    acc.add("a")
    acc.add("b")
    assert acc.pending == 2
    assert seen == [1, 2]


class Recorder:
    def __init__(self, failures: int = 0) -> None:
        self.batches: list[list[list[str]]] = []
        self.failures = failures
        self.calls = 0

    async def flush(self, batch: list[list[str]]) -> None:
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("down")
        self.batches.append(batch)


async def test_batches_are_flushed_in_order_and_stop_drains_what_is_pending() -> None:
    recorder = Recorder()
    gauge: list[int] = []
    batcher = Batcher(
        recorder.flush, max_size=3, max_wait=3600, size=_size, on_pending=gauge.append
    )
    batcher.start()
    first, second = item(2), item(1)
    batcher.add(first)
    batcher.add(second)
    await eventually(lambda: recorder.batches == [[first, second]], what="the full batch")
    third = item(1)
    batcher.add(third)
    await asyncio.sleep(0.05)
    assert batcher.pending == 1  # not due for an hour
    assert await batcher.stop(timeout=5) is True
    assert recorder.batches == [[first, second], [third]]
    assert gauge[-1] == 0 and batcher.pending == 0


async def test_a_failed_flush_is_retried_until_it_succeeds() -> None:
    recorder = Recorder(failures=2)
    retries: list[tuple[int, int]] = []

    def on_retry(
        batch: Sequence[list[str]], attempt: int, delay: float, exc: BaseException
    ) -> None:
        assert isinstance(exc, ConnectionError)
        retries.append((len(batch), attempt))

    batcher = Batcher(
        recorder.flush,
        max_size=10,
        max_wait=0,
        retry_flush=FlushRetry("test flush", on_retry, base=0.001, cap=0.01),
    )
    batcher.start()
    only = item(1)
    batcher.add(only)
    assert await batcher.stop(timeout=5)
    assert recorder.batches == [[only]]
    assert retries == [(1, 1), (1, 2)]


async def test_without_retry_a_failed_flush_goes_to_on_failure_and_the_loop_goes_on() -> None:
    recorder = Recorder(failures=1)
    failed: list[tuple[list[list[str]], str]] = []

    async def on_failure(batch: list[list[str]], exc: Exception) -> None:
        failed.append((batch, str(exc)))

    batcher = Batcher(recorder.flush, max_size=1, max_wait=0, on_failure=on_failure)
    batcher.start()
    bad, good = item(1), item(1)
    batcher.add(bad)
    batcher.add(good)
    assert await batcher.stop(timeout=5)
    assert failed == [([bad], "down")]
    assert recorder.batches == [[good]]


async def test_in_flight_units_count_as_pending_when_asked() -> None:
    release = asyncio.Event()
    gauge: list[int] = []

    async def slow(batch: list[list[str]]) -> None:
        await release.wait()

    batcher = Batcher(
        slow, max_size=10, max_wait=0, size=_size, on_pending=gauge.append, count_in_flight=True
    )
    batcher.start()
    batcher.add(item(4))
    await eventually(lambda: batcher.pending == 0, what="the batch taken")
    assert batcher.unflushed == 4
    assert gauge[-1] == 4  # taken, but not yet flushed
    release.set()
    assert await batcher.stop(timeout=5)
    assert (batcher.unflushed, gauge[-1]) == (0, 0)


async def test_stop_gives_up_after_the_timeout_and_runs_on_drained_otherwise() -> None:
    drained: list[bool] = []

    async def on_drained() -> None:
        drained.append(True)

    async def never(batch: list[str]) -> None:
        await asyncio.Event().wait()

    stuck = Batcher(never, max_size=1, max_wait=0, on_drained=on_drained)
    stuck.start()
    stuck.add("a")
    assert await stuck.stop(timeout=0.05) is False
    assert stuck.unflushed == 1  # abandoned, still unsettled
    assert drained == []

    recorder = Recorder()
    fine = Batcher(recorder.flush, max_size=1, max_wait=0, on_drained=on_drained)
    fine.start()
    assert await fine.stop(timeout=5) is True
    assert drained == [True]
    assert await Batcher(recorder.flush, max_size=1, max_wait=0).stop(timeout=1) is True


class _BatchSettings(BaseSettings):
    batch_max_things: int = max_batch_setting(50, "things")
    batch_max_wait_ms: float = max_wait_setting(5.0, "thing", most_ms=1000)
    prefetch: int = prefetch_setting(20, "Unacked things per process")


def test_the_batch_settings_share_their_bounds_and_wording() -> None:
    fields = _BatchSettings.model_fields
    assert fields["batch_max_things"].description == "Flush once this many things are pending."
    assert (
        fields["batch_max_wait_ms"].description == "Flush this long after the first pending thing."
    )
    assert fields["prefetch"].description == "Unacked things per process; must let a batch fill up."
    assert _BatchSettings().batch_max_things == 50
    for name, value in (("batch_max_things", 0), ("batch_max_wait_ms", 1001), ("prefetch", 70_000)):
        try:
            _BatchSettings(**{name: value})
        except ValueError:
            continue
        raise AssertionError(f"{name}={value} was accepted")
