"""`ws-gateway [serve]` (or `python -m ws_gateway`): see zephyr_runtime.service."""

from __future__ import annotations

from ws_gateway.fdlimit import raise_open_files_limit
from ws_gateway.settings import Settings
from zephyr_runtime.service import Service, run_until_stopped


async def serve(settings: Settings) -> int:
    """Serve WebSockets until the stop signal, then close them (1001) within the grace time."""
    from ws_gateway.app import Gateway

    gateway = Gateway(settings)
    return await run_until_stopped(
        gateway.start, gateway.stop, grace=settings.shutdown_grace_seconds
    )


def prepare(settings: Settings) -> None:
    raise_open_files_limit()  # one descriptor per connection: max_connections needs many


SERVICE = Service("ws-gateway", Settings, serve, prepare=prepare)
main = SERVICE.main

if __name__ == "__main__":
    main()
