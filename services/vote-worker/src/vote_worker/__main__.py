"""`vote-worker [serve|migrate|retention …]` (or `python -m vote_worker`): see
zephyr_runtime.service."""

from __future__ import annotations

from vote_worker.settings import SERVICE_NAME, Settings
from zephyr_runtime.service import Service, run_until_stopped


async def serve(settings: Settings) -> int:
    """Consume until the stop signal; then stop consuming, flush, ack and close (the broker's
    graceful timeout bounds that, so no grace period of our own)."""
    from vote_worker.worker import Worker

    worker = Worker(settings)
    return await run_until_stopped(worker.start, worker.stop, grace=None, abort=worker.close)


SERVICE = Service(SERVICE_NAME, Settings, serve, owns_tables=True)
main = SERVICE.main

if __name__ == "__main__":
    main()
