"""The HTTP responses of the WebSocket port (plain routes and refused handshakes)."""

from __future__ import annotations

import email.utils
import http
from collections.abc import Iterable

import orjson
from websockets.datastructures import Headers
from websockets.http11 import Response

NO_STORE = (("Cache-Control", "no-store"),)


def make_response(
    status: int, body: bytes, content_type: str, headers: Iterable[tuple[str, str]] = NO_STORE
) -> Response:
    """A complete response (the connection closes after it); `headers` follow the usual ones."""
    code = http.HTTPStatus(status)
    usual = [
        ("Date", email.utils.formatdate(usegmt=True)),
        ("Connection", "close"),
        ("Content-Length", str(len(body))),
        ("Content-Type", content_type),
    ]
    return Response(code.value, code.phrase, Headers([*usual, *headers]), body)


def json_response(status: int, payload: object) -> Response:
    return make_response(status, orjson.dumps(payload), "application/json")
