"""The participant page: `/`, `/{room_code}` and `/join/{room_code}` serve one static page.

The page and its two assets ship inside the package (`ws_gateway/static/`) and are read once
with importlib.resources. Every page response carries a strict CSP: scripts and styles only from
this origin, so an injected `<script>` or inline handler can never run.
"""

from __future__ import annotations

import email.utils
import http
import re
from functools import cache
from importlib import resources

from websockets.datastructures import Headers
from websockets.http11 import Response

from contracts.polls import ROOM_CODE_ALPHABET, ROOM_CODE_LENGTH

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

# Room codes are matched case-insensitively (the page upper-cases them).
_PAGE_PATH = re.compile(
    rf"^/(?:join/)?[{ROOM_CODE_ALPHABET}{ROOM_CODE_ALPHABET.lower()}]{{{ROOM_CODE_LENGTH}}}/?$"
)
_ASSETS = {
    "/assets/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/assets/app.css": ("app.css", "text/css; charset=utf-8"),
}
_INDEX = ("index.html", "text/html; charset=utf-8")


@cache
def _static(name: str) -> bytes:
    return resources.files("ws_gateway").joinpath("static", name).read_bytes()


def page_response(body: bytes, content_type: str) -> Response:
    code = http.HTTPStatus.OK
    headers = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),
            ("Content-Length", str(len(body))),
            ("Content-Type", content_type),
            # Small files; no-cache still lets the browser revalidate, a deploy shows at once.
            ("Cache-Control", "no-cache"),
            ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            ("X-Frame-Options", "DENY"),
        ]
    )
    return Response(code.value, code.phrase, headers, body)


def is_page_path(path: str) -> bool:
    return path == "/" or _PAGE_PATH.fullmatch(path) is not None


def serve_page(path: str) -> Response | None:
    """The page or one of its assets for `path`, or None when the path is not ours."""
    if is_page_path(path):
        name, content_type = _INDEX
    elif path in _ASSETS:
        name, content_type = _ASSETS[path]
    else:
        return None
    return page_response(_static(name), content_type)
