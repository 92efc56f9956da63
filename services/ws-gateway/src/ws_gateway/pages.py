"""The participant page: `/`, `/{room_code}` and `/join/{room_code}` serve one static page.

The page and its assets ship inside the package (`ws_gateway/static/`) and are read once
with importlib.resources. Every page response carries the strict page headers of
`zephyr_runtime.page_headers` (CSP: scripts and styles only from this origin, so an injected
`<script>` or inline handler can never run).
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from websockets.http11 import Response

from contracts.polls import ROOM_CODE_ALPHABET, ROOM_CODE_LENGTH
from ws_gateway.responses import make_response
from zephyr_runtime.page_headers import PAGE_HEADERS

# Room codes are matched case-insensitively (the page upper-cases them).
_PAGE_PATH = re.compile(
    rf"^/(?:join/)?[{ROOM_CODE_ALPHABET}{ROOM_CODE_ALPHABET.lower()}]{{{ROOM_CODE_LENGTH}}}/?$"
)
_ASSETS = {
    "/assets/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/assets/words.js": ("words.js", "text/javascript; charset=utf-8"),
    "/assets/qa.js": ("qa.js", "text/javascript; charset=utf-8"),
    "/assets/app.css": ("app.css", "text/css; charset=utf-8"),
}
_INDEX = ("index.html", "text/html; charset=utf-8")


@cache
def _static(name: str) -> bytes:
    return resources.files("ws_gateway").joinpath("static", name).read_bytes()


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
    return make_response(200, _static(name), content_type, PAGE_HEADERS)
