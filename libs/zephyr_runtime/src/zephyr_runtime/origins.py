"""Comma-separated settings and the origin lists read from them (CORS, WebSocket Origin)."""

from __future__ import annotations

from urllib.parse import urlsplit


def split_list(value: str) -> list[str]:
    """`"a, b,,c"` -> `["a", "b", "c"]`."""
    return [item.strip() for item in value.split(",") if item.strip()]


def check_origins(value: str) -> str:
    """Raise ValueError unless every entry is an origin like `https://host[:port]`."""
    for origin in split_list(value):
        if origin == "*":
            raise ValueError("list the allowed origins; '*' is not accepted")
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
            raise ValueError(f"{origin!r} is not an origin like https://host[:port]")
    return value
