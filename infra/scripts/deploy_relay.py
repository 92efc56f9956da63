"""The switch in front of `make run`'s services: each public port is a TCP relay to one process.

`make run` binds the public ports (8000-8003) itself and relays each new connection to the
private port of the service's current process. A rolling update (`make deploy`) starts the new
process on another private port, checks it there (readiness, smoke check), then moves the route:
new connections go to the new process at once, open ones stay with the old process until it
drains and closes them (the gateway with 1012, after which participants resume through the same
public port, now reaching the new gateway). Nothing in the services changes for this.

Why not SO_REUSEPORT: the kernel would spread connections over both processes, so a check could
not target the new one, and connections waiting in a closing listener's backlog are reset. Why
not HAProxy (bench/haproxy.py): `make run` would need it installed; one machine's development
traffic fits through a Python relay. The services see every client as 127.0.0.1, as they did.

The relay runs on its own event loop in a daemon thread (`Loop`), beside the control socket
(deploy_control.py); the supervisor's thread only sets routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")
CHUNK = 64 * 1024
LINGER_S = 10.0  # after one direction ended, how long the other may still run


class Loop:
    """An asyncio loop in a daemon thread; `call` runs a coroutine there and waits for it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="relay", daemon=True)
        self._thread.start()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()  # half-close: the other side sees the end and answers it
    except (OSError, RuntimeError):
        writer.close()


class Relay:
    """Public port -> the private port in `routes[name]`, decided when a connection opens."""

    def __init__(self) -> None:
        self.routes: dict[str, int] = {}
        self._servers: list[asyncio.Server] = []

    async def listen(self, name: str, host: str, port: int) -> None:
        server = await asyncio.start_server(
            lambda r, w: self._pipe(name, r, w), host, port, reuse_address=True, backlog=2048
        )
        self._servers.append(server)

    async def _pipe(
        self, name: str, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> None:
        port = self.routes.get(name)
        try:
            if port is None:
                raise ConnectionRefusedError(f"{name} has no process")
            backend_r, backend_w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            client_w.close()  # like a refused connection: the client retries
            return
        up = asyncio.ensure_future(_copy(client_r, backend_w))
        down = asyncio.ensure_future(_copy(backend_r, client_w))
        try:
            await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            await asyncio.wait({up, down}, timeout=LINGER_S)
        finally:
            for task in (up, down):
                task.cancel()
            for writer in (client_w, backend_w):
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
