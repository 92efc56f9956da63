"""`python -m ws_gateway [serve|migrate]`."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from ws_gateway.app import Gateway
from ws_gateway.fdlimit import raise_open_files_limit
from ws_gateway.settings import Settings
from zephyr_runtime.observability import setup_observability
from zephyr_runtime.settings import load_settings

log = logging.getLogger("ws_gateway")


async def serve(settings: Settings) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    gateway = Gateway(settings)
    starting = asyncio.create_task(gateway.start())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():  # asked to stop while still waiting for a dependency
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        await gateway.stop()
        return 0
    start_error = starting.exception()
    if start_error is not None:
        log.error("ws-gateway failed to start", extra={"error": repr(start_error)})
        await gateway.stop()
        return 1
    await stopping
    log.info("shutting down")
    try:
        async with asyncio.timeout(settings.shutdown_grace_seconds):
            await gateway.stop()
    except TimeoutError:
        log.error("graceful shutdown did not finish in time")
        return 1
    return 0


def _run(coro: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "serve"
    if command == "migrate":
        print("ws-gateway owns no tables: nothing to migrate")
        return
    if command != "serve":
        print(f"usage: ws-gateway [serve|migrate] (got {command!r})", file=sys.stderr)
        raise SystemExit(2)
    settings = load_settings(Settings)
    raise_open_files_limit()  # one descriptor per connection: max_connections needs many
    setup_observability("ws-gateway", settings)
    raise SystemExit(_run(serve(settings)))


if __name__ == "__main__":
    main()
