"""Write docs/configuration.md from the services' Settings classes (the single source of truth).

`python infra/scripts/gen_config_docs.py` rewrites it; tests/docs/test_configuration_doc.py
fails when it is stale.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / "docs" / "configuration.md"
SERVICES = [
    ("poll-api", "poll_api.settings", "POLL_API_"),
    ("ws-gateway", "ws_gateway.settings", "WS_GATEWAY_"),
    ("vote-worker", "vote_worker.settings", "VOTE_WORKER_"),
    ("audit-sink", "audit_sink.settings", "AUDIT_SINK_"),
]
SHARED = {
    "environment",
    "amqp_url",
    "database_url",
    "redis_url",
    "redis_prefix",
    "log_level",
    # Observability (docs/observability.md): the same everywhere, so set once as ZEPHYR_*.
    "log_ship_url",
    "otel_exporter",
    "otel_endpoint",
}

HEADER = """# Configuration

Generated from the services' `Settings` classes by `python infra/scripts/gen_config_docs.py`;
a test fails when this file is stale. Each service reads `<PREFIX><FIELD>` first, then
`ZEPHYR_<FIELD>` (so one `ZEPHYR_DATABASE_URL` configures all four), and `<NAME>_FILE` reads a
secret from a file. Invalid values stop the service at start with exit status 2 and one line
per bad setting. Names are case-insensitive.
"""


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        return "(computed)"
    if info.default is PydanticUndefined:
        return "(required)"
    value: Any = info.default
    if isinstance(value, str) and "secret" in value:
        return "development-only value (refused in production)"
    return f"`{value!r}`" if value not in (None, "") else "—"


def _bounds(info: FieldInfo) -> str:
    parts = []
    for meta in info.metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            bound = getattr(meta, attr, None)
            if bound is not None:
                parts.append(f"{sign} {bound}")
        pattern = getattr(meta, "pattern", None)
        if pattern:
            parts.append(f"matches `{pattern}`")
    return ", ".join(parts)


def _row(prefix: str, name: str, info: FieldInfo) -> str:
    text = (info.description or "").replace("\n", " ").replace("|", "\\|")
    bounds = _bounds(info)
    if bounds:
        text = f"{text} ({bounds})" if text else bounds
    return f"| `{prefix}{name.upper()}` | {_default(info)} | {text} |"


def render() -> str:
    lines = [HEADER]
    for service, module, prefix in SERVICES:
        settings_cls = next(
            obj
            for obj in vars(importlib.import_module(module)).values()
            if isinstance(obj, type) and obj.__name__ == "Settings"
        )
        fields = settings_cls.model_fields
        lines += [f"## {service}", "", "| variable | default | meaning |", "|---|---|---|"]
        lines += [_row(prefix, n, i) for n, i in fields.items() if n not in SHARED]
        lines.append("")
    lines += [
        "## Shared by every service (`ZEPHYR_` or the service's prefix)",
        "",
        "| variable | default | meaning |",
        "|---|---|---|",
    ]
    from zephyr_runtime.settings import ServiceSettings

    for name in sorted(SHARED):
        lines.append(_row("ZEPHYR_", name, ServiceSettings.model_fields[name]))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    TARGET.write_text(render())
    print(f"wrote {TARGET.relative_to(ROOT)}", file=sys.stderr)
