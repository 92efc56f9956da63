"""The security headers of the HTML pages and assets that poll-api and ws-gateway serve.

One policy for both services: same-origin scripts, styles and images (plus `data:` images for
the QR code), connections to the same origin and to WebSocket gateways, no inline script, no
plugins, no framing. `api_content_security_policy` is the stricter policy of JSON responses.
"""

from __future__ import annotations

from collections.abc import Sequence

PAGE_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

PAGE_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", PAGE_CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    # Small files; no-cache still lets the browser revalidate, so a deploy shows at once.
    ("Cache-Control", "no-cache"),
)


def api_content_security_policy(connect_sources: Sequence[str] = ()) -> str:
    """The default policy of every other response; `connect_sources` adds connect-src entries."""
    connect = " ".join(["'self'", *connect_sources])
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {connect}; font-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )
