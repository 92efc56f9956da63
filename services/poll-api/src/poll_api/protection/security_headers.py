"""Security headers on every response poll-api sends (errors, 429s and 413s included).

The CSP (`zephyr_runtime.page_headers.api_content_security_policy`) allows only same-origin
scripts, styles and connections (plus configured `connect-src` sources such as the gateway's
`wss://` origin), no inline script, no plugins, and no framing. The interactive API docs
(`/docs`, `/redoc`) load Swagger/ReDoc from a CDN with an inline bootstrap script, so those two
pages alone get a CSP that allows that CDN.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Receive, Scope, Send

from poll_api.asgi import HttpMiddleware, WatchedSend
from zephyr_runtime.page_headers import api_content_security_policy

DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
_CDN = "https://cdn.jsdelivr.net"
DOCS_CSP = (
    f"default-src 'self'; script-src 'self' 'unsafe-inline' {_CDN}; "
    f"style-src 'self' 'unsafe-inline' {_CDN}; img-src 'self' data: https://fastapi.tiangolo.com; "
    f"connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


class SecurityHeadersMiddleware(HttpMiddleware):
    def __init__(
        self,
        app: ASGIApp,
        *,
        connect_sources: Sequence[str] = (),
        served_over_tls: bool = False,
        hsts_max_age_seconds: int = 31_536_000,
    ) -> None:
        super().__init__(app)
        self.csp = api_content_security_policy(connect_sources)
        self.served_over_tls = served_over_tls
        self.hsts = f"max-age={hsts_max_age_seconds}; includeSubDomains"

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        tls = self.served_over_tls or scope.get("scheme") == "https"
        csp = DOCS_CSP if path in DOCS_PATHS else self.csp

        def add_headers(headers: MutableHeaders) -> None:
            # A route that sets its own policy (the host pages allow ws: connections to
            # the gateway) keeps it; everything else gets the strict default.
            headers.setdefault("Content-Security-Policy", csp)
            headers.setdefault("X-Content-Type-Options", "nosniff")
            headers.setdefault("X-Frame-Options", "DENY")
            headers.setdefault("Referrer-Policy", "no-referrer")
            headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
            headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
            if path.startswith("/api/"):
                headers.setdefault("Cache-Control", "no-store")  # host tokens, live state
            if tls:
                headers.setdefault("Strict-Transport-Security", self.hsts)

        await self.app(scope, receive, WatchedSend(send, add_headers))
