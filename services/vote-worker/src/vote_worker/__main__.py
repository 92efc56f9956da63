"""`python -m vote_worker [serve|migrate]`."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from vote_worker.migrate import upgrade
from vote_worker.settings import SERVICE_NAME, Settings
from vote_worker.worker import Worker
from zephyr_runtime.observability import setup_observability
from zephyr_runtime.settings import load_settings

log = logging.getLogger("vote_worker")

USAGE = "usage: vote-worker [serve|migrate|retention]"


async def serve(settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    worker = Worker(settings)
    try:
        await worker.start()
    except Exception as exc:
        log.error("vote-worker could not start: %s: %s", type(exc).__name__, exc)
        await worker.close()
        return 1
    await stop.wait()
    log.info("stopping: finishing in-flight votes")
    await worker.stop()
    return 0


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "serve"
    if command == "retention":  # flags of its own: see vote_worker.retention
        from vote_worker.retention import main as retention

        raise SystemExit(retention(args[1:]))
    if command not in ("serve", "migrate") or len(args) > 1:
        print(USAGE, file=sys.stderr)
        raise SystemExit(2)
    settings = load_settings(Settings)
    setup_observability(SERVICE_NAME, settings)
    if command == "migrate":
        upgrade(settings.database_url)
        log.info("migrations applied")
        return
    raise SystemExit(_run(serve(settings)))


def _run(coro: Coroutine[Any, Any, int]) -> int:
    """uvloop when installed: asyncpg and aio-pika spend less time in the event loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


if __name__ == "__main__":
    main()
