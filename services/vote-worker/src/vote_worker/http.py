"""HTTP on settings.port: /health/live, /health/ready, /metrics (and the AsyncAPI document).

`AsgiFastStream` routes the requests; uvicorn serves them with lifespan off, because the worker
starts and stops the broker itself, in its own shutdown order (stop consuming, flush, ack, close).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import uvicorn
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.asgi.response import JSONResponse
from faststream.rabbit import RabbitBroker

from zephyr_runtime.metrics import METRICS_CONTENT_TYPE, render_metrics

ReadyCheck = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]


def build_http_app(broker: RabbitBroker, readiness: ReadyCheck) -> AsgiFastStream:
    @get(include_in_schema=False)
    async def live(scope: Any) -> AsgiResponse:
        return JSONResponse({"status": "ok"})

    @get(include_in_schema=False)
    async def ready(scope: Any) -> AsgiResponse:
        ok, checks = await readiness()
        if ok:
            return JSONResponse({"status": "ready", "checks": checks})
        return JSONResponse({"status": "unavailable", "checks": checks}, status_code=503)

    @get(include_in_schema=False)
    async def metrics(scope: Any) -> AsgiResponse:
        return AsgiResponse(render_metrics(), 200, {"Content-Type": METRICS_CONTENT_TYPE})

    return AsgiFastStream(
        broker,
        asgi_routes=[("/health/live", live), ("/health/ready", ready), ("/metrics", metrics)],
        asyncapi_path="/docs/asyncapi",
    )


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The worker owns SIGTERM/SIGINT: uvicorn would re-raise them after serving.
        yield


class HttpServer:
    def __init__(self, app: AsgiFastStream, host: str, port: int) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            lifespan="off",
            log_config=None,
            access_log=False,
            ws="none",
            server_header=False,
        )
        self._server = _Server(config)
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
