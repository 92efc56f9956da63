"""`python -m audit_sink [serve|migrate]`."""

from __future__ import annotations

import asyncio
import sys

from audit_sink.settings import Settings
from zephyr_runtime.observability import setup_observability
from zephyr_runtime.settings import load_settings

USAGE = "usage: audit-sink [serve|migrate|retention]"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "serve"
    if command == "retention":  # flags of its own: see audit_sink.retention
        from audit_sink.retention import main as retention

        raise SystemExit(retention(args[1:]))
    if command not in ("serve", "migrate") or len(args) > 1:
        print(USAGE, file=sys.stderr)
        raise SystemExit(2)
    settings = load_settings(Settings)
    setup_observability("audit-sink", settings)
    if command == "migrate":
        from audit_sink.migrate import upgrade

        upgrade(settings.database_url)
        return
    from audit_sink.server import serve

    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
