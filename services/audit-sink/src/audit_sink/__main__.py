"""`audit-sink [serve|migrate|retention …]` (or `python -m audit_sink`): see
zephyr_runtime.service. Serving runs FastStream's ASGI app under uvicorn; its lifespan stops
consuming, flushes and acks what is pending."""

from __future__ import annotations

from audit_sink.settings import Settings
from zephyr_runtime.service import Service

SERVICE = Service("audit-sink", Settings, asgi_app="audit_sink.app:build_app", owns_tables=True)
main = SERVICE.main

if __name__ == "__main__":
    main()
