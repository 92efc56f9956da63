"""How every Zephyr service runs: one command line, one event loop, one way to stop.

`python -m <package> [serve|migrate|retention …]` (or the console script `<service> …`):

- `serve` (the default) loads the settings (a bad configuration exits 2 with one line per
  field), sets up logs and traces, then runs the service on uvloop until SIGTERM or SIGINT and
  exits 0 after a graceful stop; 1 when the start failed or the stop overran its grace period
  (`run_until_stopped`), 3 when an ASGI app never started (`serve_asgi`, uvicorn's own code).
- `migrate` applies the service's Alembic migrations (services that own no table say so).
- `retention …` hands its own flags to the service's retention command.

A service describes itself with a `Service` and sets `main = SERVICE.main`. It runs in one of
two shapes:

- `asgi_app`: an ASGI app (FastAPI, or FastStream's `AsgiFastStream`) served by
  `zephyr_runtime.asgi_server.serve_asgi`: uvicorn, lifespan on, its signal handling replaced so
  that a stop signal ends in a clean return instead of a re-raised signal.
- `serve`: a coroutine, usually `run_until_stopped(start, stop)` for a process that starts its
  own parts (a gateway, a worker), waits for the stop signal, then stops them within `grace`.

uvicorn, Alembic and SQLAlchemy are imported only by the services that use them.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from zephyr_runtime.observability import setup_observability
from zephyr_runtime.settings import ServiceSettings, load_settings

if TYPE_CHECKING:  # imported when used: the gateway owns no tables and serves no ASGI app
    from zephyr_runtime.migrations import Migrations

S = TypeVar("S", bound=ServiceSettings)

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
EXIT_USAGE = 2
EXIT_START_FAILED = 1


@dataclass(frozen=True)
class Service(Generic[S]):
    """What the runner needs to know about one service.

    `serve` is the coroutine that runs it, or `asgi_app` names ("package.module:function") the
    factory of an ASGI app that `serve_asgi` runs. A service that `owns_tables` has its Alembic
    migrations in `<package>/migrations/` and its retention command in `<package>.retention:main`
    (the package is the name with `_` for `-`), imported only when that command runs.
    """

    name: str
    settings: type[S]
    serve: Callable[[S], Coroutine[Any, Any, int]] | None = None
    asgi_app: str | None = None
    owns_tables: bool = False
    # Runs after the settings are loaded, before logging is set up (e.g. raise rlimits).
    prepare: Callable[[S], None] | None = None

    @property
    def package(self) -> str:
        return self.name.replace("-", "_")

    @property
    def migrations(self) -> Migrations | None:
        if not self.owns_tables:
            return None
        from zephyr_runtime.migrations import Migrations  # alembic and SQLAlchemy: only here

        return Migrations(self.package)

    @property
    def retention(self) -> str | None:
        return f"{self.package}.retention:main" if self.owns_tables else None

    def main(self, argv: Sequence[str] | None = None) -> None:
        """The console script's entry point (`<service> …`)."""
        run_service(self, argv)

    async def run(self, settings: S) -> int:
        if self.asgi_app is not None:
            from zephyr_runtime.asgi_server import serve_asgi  # uvicorn: only for ASGI apps

            return await serve_asgi(_imported(self.asgi_app)(settings), settings)
        assert self.serve is not None, f"{self.name}: a Service needs serve or asgi_app"
        return await self.serve(settings)


def run_service(service: Service[S], argv: Sequence[str] | None = None) -> None:
    """The `main()` of every service: dispatch the command line, exit with its status."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else "serve"
    if command == "retention" and service.retention is not None:
        raise SystemExit(_call(service.retention, args[1:]))
    if command not in ("serve", "migrate") or len(args) > 1:
        commands = "serve|migrate" + ("|retention" if service.retention else "")
        print(f"usage: {service.name} [{commands}] (got {' '.join(args)!r})", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)
    if command == "migrate" and service.migrations is None:
        print(f"{service.name} owns no tables: nothing to migrate")
        return
    settings = load_settings(service.settings)
    if service.prepare is not None:
        service.prepare(settings)
    setup_observability(service.name, settings)
    if command == "migrate":
        assert service.migrations is not None
        service.migrations.upgrade(settings.database_url)
        log.info("migrations applied")
        return
    log.info("starting", extra={"host": settings.host, "port": settings.port})
    raise SystemExit(run_async(service.run(settings)))


def _imported(target: str) -> Any:
    """The object named by "package.module:attribute"."""
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def _call(target: str, args: list[str]) -> int:
    return int(_imported(target)(args))


def run_async(coro: Coroutine[Any, Any, int]) -> int:
    """Run the service's coroutine on uvloop when installed (asyncpg and aio-pika spend less
    time in the event loop), else on asyncio's default loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


@contextlib.contextmanager
def stop_signals() -> Iterator[asyncio.Event]:
    """An event set by SIGTERM or SIGINT while the block runs (handlers on the running loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        yield stop
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


async def run_until_stopped(
    start: Callable[[], Coroutine[Any, Any, object]],
    stop: Callable[[], Awaitable[object]],
    *,
    grace: float | None,
    abort: Callable[[], Awaitable[object]] | None = None,
) -> int:
    """Start, wait for the stop signal, stop within `grace` seconds (None: however long the
    stop takes, for a stop that bounds itself); the exit status.

    A stop signal during the start (still waiting for a dependency) cancels the start and stops
    at once (0). A failed start runs `abort` (default: `stop`) and returns 1.
    """
    with stop_signals() as stopping:
        return await _start_wait_stop(start, stop, stopping, grace, abort or stop)


async def _start_wait_stop(
    start: Callable[[], Coroutine[Any, Any, object]],
    stop: Callable[[], Awaitable[object]],
    stopping: asyncio.Event,
    grace: float | None,
    abort: Callable[[], Awaitable[object]],
) -> int:
    starting: asyncio.Task[object] = asyncio.create_task(start(), name="start")
    signalled = asyncio.create_task(stopping.wait(), name="stop-signal")
    await asyncio.wait({starting, signalled}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        await stop()
        return 0
    error = starting.exception()
    if error is not None:
        log.error("could not start: %s: %s", type(error).__name__, error)
        signalled.cancel()
        await abort()
        return EXIT_START_FAILED
    await signalled
    log.info("stopping: finishing in-flight work")
    try:
        async with asyncio.timeout(grace):
            await stop()
    except TimeoutError:
        log.error("graceful shutdown did not finish in time")
        return EXIT_START_FAILED
    return 0
