"""`poll-api [serve|migrate|retention …]` (or `python -m poll_api`): see zephyr_runtime.service.
Serving runs the FastAPI app under uvicorn; its lifespan stops the relay after its batch."""

from __future__ import annotations

from poll_api.settings import Settings
from zephyr_runtime.service import Service

SERVICE = Service("poll-api", Settings, asgi_app="poll_api.main:create_app", owns_tables=True)
main = SERVICE.main

if __name__ == "__main__":
    main()
