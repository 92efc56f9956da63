"""Serving an ASGI app (FastAPI, or FastStream's `AsgiFastStream`) with uvicorn, the same way in
every service: our JSON logs, no access log, no server header, no proxy headers, and a stop
signal that ends in a clean return instead of a re-raised signal. Kept apart from
`zephyr_runtime.service` so that a service without an ASGI app never imports uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from types import FrameType
from typing import Any, Literal

import uvicorn

from zephyr_runtime.settings import ServiceSettings

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
EXIT_NOT_STARTED = 3  # uvicorn's own status when the app never started (lifespan failed)


class UvicornServer(uvicorn.Server):
    """uvicorn, minus re-raising the stop signal after a graceful shutdown: the process exits 0.

    With `own_signals=False` it installs no handlers at all: the process (a worker that stops
    its consumers in its own order) owns SIGTERM and SIGINT and sets `should_exit` itself.
    """

    def __init__(self, config: uvicorn.Config, *, own_signals: bool = True) -> None:
        super().__init__(config)
        self._own_signals = own_signals

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if not self._own_signals:
            yield
            return
        originals = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl-C skips the graceful wait
        else:
            self.should_exit = True


def uvicorn_config(
    app: Any, settings: ServiceSettings, *, lifespan: Literal["on", "off"] = "on"
) -> uvicorn.Config:
    """One uvicorn configuration for every service: our JSON logs, no access log (the
    middleware counts requests), no server header, no proxy headers (`client_ip` decides whose
    X-Forwarded-For to believe)."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        lifespan=lifespan,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(max(1, settings.shutdown_grace_seconds)),
        server_header=False,
        proxy_headers=False,
        ws="none",
    )


async def serve_asgi(app: Any, settings: ServiceSettings) -> int:
    """Serve an ASGI app until a stop signal: stop accepting, finish in-flight requests, run
    the lifespan shutdown, then return 0 (3 when the app never started)."""
    server = UvicornServer(uvicorn_config(app, settings))
    await server.serve()
    return 0 if server.started else EXIT_NOT_STARTED


class BackgroundHttpServer:
    """An ASGI app served beside a process's main work (the worker's health and metrics),
    lifespan off: the process starts and stops its own parts in its own order."""

    def __init__(self, app: Any, settings: ServiceSettings) -> None:
        self._server = UvicornServer(
            uvicorn_config(app, settings, lifespan="off"), own_signals=False
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(), name="http")
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises why it stopped
                raise RuntimeError("HTTP server stopped during start-up")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(Exception, SystemExit):
            await self._task
