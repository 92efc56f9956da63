"""Reads shared by the callers that ask at once, each still getting a read that began after it
asked (so nothing written before the call is missed).

While a read of a key is out, every new caller waits for the *next* read, which starts when
the current one ends; however many ask during one round trip, they share one read. A join
storm of 10,000 re-reads the poll's state a few hundred times instead of 10,000.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class SharedRead(Generic[K, T]):
    def __init__(self, read: Callable[[K], Awaitable[T]]) -> None:
        self._read = read
        self._running: dict[K, asyncio.Future[T]] = {}
        self._next: dict[K, asyncio.Future[T]] = {}

    async def __call__(self, key: K) -> T:
        if key not in self._running:
            future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
            self._start(key, future)
        else:
            future = self._next.get(key) or asyncio.get_running_loop().create_future()
            self._next[key] = future
        return await asyncio.shield(future)

    def _start(self, key: K, future: asyncio.Future[T]) -> None:
        self._running[key] = future
        task = asyncio.ensure_future(self._read(key))
        task.add_done_callback(lambda done: self._finish(key, future, done))

    def _finish(self, key: K, future: asyncio.Future[T], done: asyncio.Future[T]) -> None:
        del self._running[key]
        if done.cancelled():
            future.cancel()
        elif (exc := done.exception()) is not None:
            future.set_exception(exc)
            future.exception()  # marked retrieved: a caller that went away leaves no warning
        else:
            future.set_result(done.result())
        waiting = self._next.pop(key, None)
        if waiting is not None:
            self._start(key, waiting)
