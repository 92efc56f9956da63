"""An export's later pages are read where its first page was (logic: fake databases)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

import pytest

from poll_api.reads import ReadRouter, ReadSession


class FakeDatabase:
    """A session factory whose reads answer its name, or fail with `error`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.error: BaseException | None = None
        self.reads = 0

    def __call__(self) -> Any:
        database = self

        class Session:
            async def __aenter__(self) -> Session:
                return self

            async def __aexit__(self, *_: Any) -> None:
                return None

            @asynccontextmanager
            async def begin(self) -> Any:
                yield

            async def answer(self) -> str:
                database.reads += 1
                if database.error is not None:
                    raise database.error
                return database.name

        return Session()


async def read(session: Any) -> str:
    return str(await session.answer())


def reads_with(primary: FakeDatabase, replica: FakeDatabase | None) -> ReadSession:
    router = ReadRouter(primary, replica, None, None, "t", 5.0)  # type: ignore[arg-type]
    return router.session("ABCDEF")


async def test_pages_stay_on_the_replica_that_answered_the_first() -> None:
    primary, replica = FakeDatabase("primary"), FakeDatabase("replica")
    reads = reads_with(primary, replica)
    reads.on_replica = True  # the first page came from the replica
    assert [await reads.run_again(read) for _ in range(3)] == ["replica"] * 3
    assert primary.reads == 0


async def test_pages_stay_on_the_primary_that_answered_the_first() -> None:
    primary, replica = FakeDatabase("primary"), FakeDatabase("replica")
    reads = reads_with(primary, replica)
    reads.on_replica = False  # the first page came from the primary (the replica lagged)
    assert await reads.run_again(read) == "primary"
    assert replica.reads == 0  # never back in time to a lagging replica


async def test_a_replica_failing_mid_export_hands_over_to_the_primary() -> None:
    primary, replica = FakeDatabase("primary"), FakeDatabase("replica")
    reads = reads_with(primary, replica)
    reads.on_replica = True
    replica.error = ConnectionResetError("replica gone")
    assert await reads.run_again(read) == "primary"
    assert not reads.on_replica


async def test_a_request_error_on_the_replica_is_raised_not_retried() -> None:
    primary, replica = FakeDatabase("primary"), FakeDatabase("replica")
    reads = reads_with(primary, replica)
    reads.on_replica = True
    replica.error = ValueError("a bug in the read")
    with pytest.raises(ValueError, match="a bug"):
        await reads.run_again(read)
    assert primary.reads == 0


async def test_without_a_replica_pages_read_the_primary() -> None:
    primary = FakeDatabase("primary")
    reads = reads_with(primary, None)
    assert await reads.run_again(read) == "primary"
