"""The Origin allowlist checked at the WebSocket handshake (cross-site WebSocket hijacking).

Browsers always send `Origin` on a WebSocket handshake and scripts cannot forge it, so checking
it stops another site's page from opening a participant connection in a visitor's browser. A
handshake is accepted when its Origin is

- the gateway's own origin (same scheme-less host and port as the `Host` header: the
  participant page served by the gateway itself),
- poll-api's origin (its host pages show live results), or
- listed in `allowed_origins`.

A handshake *without* Origin is not from a browser page (a CLI, a load tester, a native app);
such a client could send any Origin it likes, so refusing it would protect nothing: it is
accepted unless `allow_missing_origin` is off. `Origin: null` (sandboxed frames, file://) is
refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit


def normalize_origin(origin: str) -> str:
    parts = urlsplit(origin.strip().lower())
    return f"{parts.scheme}://{parts.netloc}"


class OriginPolicy:
    def __init__(self, allowed: Iterable[str], *, allow_missing: bool) -> None:
        self.allowed = frozenset(normalize_origin(o) for o in allowed)
        self.allow_missing = allow_missing

    def allows(self, origin: str | None, host: str | None) -> bool:
        if origin is None:
            return self.allow_missing
        parts = urlsplit(origin.strip().lower())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False  # "null", garbage
        if f"{parts.scheme}://{parts.netloc}" in self.allowed:
            return True
        return host is not None and parts.netloc == host.strip().lower()
