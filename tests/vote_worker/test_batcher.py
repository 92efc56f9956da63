"""The accumulator's rules, in memory: when a batch is due and what it takes."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.vote_worker.factories import batch, vote
from vote_worker.backoff import MAX_DELAY_S, Stopping, backoff_delay, retry
from vote_worker.batcher import Accumulator, Delivery


class FakeMessage:
    message_id = "m"
    headers: dict[str, object] = {}

    async def ack(self) -> None:
        pass

    async def reject(self, requeue: bool = False) -> None:
        pass


def delivery(votes: int) -> Delivery:
    poll = uuid.uuid4()
    return Delivery(
        batch(*(vote(poll, uuid.uuid4(), 0, seq=1) for _ in range(votes))), FakeMessage(), "c"
    )


async def test_full_batch_is_due_at_once() -> None:
    acc = Accumulator(max_votes=10, max_wait_s=3600)
    first, second, third = delivery(6), delivery(4), delivery(3)
    for d in (first, second, third):
        acc.add(d)
    taken = await asyncio.wait_for(acc.next_batch(), 5)
    assert taken == [first, second]
    assert acc.pending_votes == 3


async def test_partial_batch_is_due_after_max_wait() -> None:
    acc = Accumulator(max_votes=1000, max_wait_s=0.01)
    only = delivery(2)
    acc.add(only)
    assert await asyncio.wait_for(acc.next_batch(), 5) == [only]
    assert acc.pending_votes == 0


async def test_waits_for_the_first_vote() -> None:
    acc = Accumulator(max_votes=1, max_wait_s=0)
    waiting = asyncio.create_task(acc.next_batch())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    d = delivery(1)
    acc.add(d)
    assert await asyncio.wait_for(waiting, 5) == [d]


async def test_close_releases_pending_then_ends() -> None:
    acc = Accumulator(max_votes=1000, max_wait_s=3600)
    d = delivery(3)
    acc.add(d)
    acc.close()
    assert await asyncio.wait_for(acc.next_batch(), 5) == [d]
    assert await asyncio.wait_for(acc.next_batch(), 5) == []


def test_backoff_grows_and_is_capped() -> None:
    assert backoff_delay(1) <= backoff_delay(10)
    assert all(MAX_DELAY_S / 2 <= backoff_delay(50) <= MAX_DELAY_S for _ in range(100))


async def test_retry_until_success_and_stop() -> None:
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionError("down")
        return "done"

    assert await retry("test", flaky) == "done"
    assert calls == 3

    async def down() -> None:
        raise ConnectionError("down")

    stopping = asyncio.Event()
    stopping.set()
    with pytest.raises(Stopping):
        await retry("test", down, stopping=stopping)
    with pytest.raises(ValueError, match="bad"):
        await retry("test", _raise_value_error, permanent=lambda e: isinstance(e, ValueError))


async def _raise_value_error() -> None:
    raise ValueError("bad")
