"""ws_gateway.shared_read: callers at once share a read; none gets a read older than its call."""

from __future__ import annotations

import asyncio

import pytest

from ws_gateway.shared_read import SharedRead


class Source:
    """A value that changes; each read takes a while and returns the value as it began."""

    def __init__(self) -> None:
        self.value = 0
        self.reads = 0
        self.fail = False

    async def read(self, key: str) -> tuple[str, int]:
        self.reads += 1
        seen, failing = self.value, self.fail
        await asyncio.sleep(0.01)
        if failing:
            raise ConnectionError("gone")
        return key, seen


async def started(source: Source, reads: int) -> None:
    while source.reads < reads:
        await asyncio.sleep(0)


async def test_callers_during_a_read_share_the_next_one_which_sees_what_they_saw() -> None:
    source = Source()
    shared = SharedRead(source.read)

    first = asyncio.create_task(shared("poll"))
    await started(source, 1)  # the first read is out, with value 0
    source.value = 1  # written after the first read began: the later callers must see it
    later = [asyncio.create_task(shared("poll")) for _ in range(50)]

    assert await first == ("poll", 0)
    assert set(await asyncio.gather(*later)) == {("poll", 1)}
    assert source.reads == 2


async def test_keys_are_read_apart_and_a_quiet_key_reads_again() -> None:
    source = Source()
    shared = SharedRead(source.read)

    assert await asyncio.gather(shared("a"), shared("b")) == [("a", 0), ("b", 0)]
    source.value = 5
    assert await shared("a") == ("a", 5)
    assert source.reads == 3


async def test_a_failed_read_fails_its_callers_only_and_the_next_read_goes() -> None:
    source = Source()
    shared = SharedRead(source.read)
    source.fail = True
    first = asyncio.create_task(shared("poll"))
    await started(source, 1)
    second = asyncio.create_task(shared("poll"))
    await asyncio.sleep(0.005)
    source.fail = False  # before the second read starts

    with pytest.raises(ConnectionError):
        await first
    assert await second == ("poll", 0)


async def test_a_caller_that_goes_away_does_not_stop_the_read_for_the_others() -> None:
    source = Source()
    shared = SharedRead(source.read)
    gone = asyncio.create_task(shared("poll"))
    stays = asyncio.create_task(shared("poll"))
    await asyncio.sleep(0)
    gone.cancel()

    assert await stays == ("poll", 0)
    assert gone.cancelled()
