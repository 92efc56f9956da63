"""`python -m poll_api [serve|migrate]`: serve the HTTP API (default) or apply migrations."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator
from types import FrameType

import uvicorn

from poll_api.config import Settings
from poll_api.main import create_app
from poll_api.migrate import upgrade
from zephyr_runtime.observability import setup_observability
from zephyr_runtime.settings import load_settings

log = logging.getLogger("poll_api")

USAGE = "usage: python -m poll_api [serve|migrate|retention]"


class _Server(uvicorn.Server):
    """uvicorn, minus re-raising the stop signal after a graceful shutdown: we exit 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        handled = (signal.SIGINT, signal.SIGTERM)
        originals = {sig: signal.signal(sig, self._stop) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)

    def _stop(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl-C skips the graceful wait
        else:
            self.should_exit = True


def serve(settings: Settings) -> int:
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        lifespan="on",
        log_config=None,  # keep our JSON logging
        access_log=False,  # the middleware counts requests; logs stay quiet
        timeout_graceful_shutdown=int(max(1, settings.shutdown_grace_seconds)),
        server_header=False,
        proxy_headers=False,  # poll_api.real_ip decides whose X-Forwarded-For to believe
    )
    server = _Server(config)
    # uvicorn handles SIGTERM/SIGINT: stop accepting, finish in-flight requests, run the
    # lifespan shutdown (which stops the relay after its current batch), then return.
    asyncio.run(server.serve())
    return 0 if server.started else 3


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "serve"
    if command == "retention":  # flags of its own: see poll_api.retention
        from poll_api.retention import main as retention

        raise SystemExit(retention(args[1:]))
    if command not in ("serve", "migrate") or len(args) > 1:
        print(USAGE, file=sys.stderr)
        raise SystemExit(2)
    settings = load_settings(Settings)
    setup_observability("poll-api", settings)
    if command == "migrate":
        upgrade(settings.database_url)
        log.info("migrations applied")
        return
    log.info("starting", extra={"host": settings.host, "port": settings.port})
    raise SystemExit(serve(settings))


if __name__ == "__main__":
    main()
