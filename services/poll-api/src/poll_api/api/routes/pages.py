"""The host's pages: the console (`/host`, `/host/{room_code}`) and the presenter view.

The pages are static files shipped inside the package (`poll_api/static/`); they talk to the
JSON API from the browser. No user data is ever put into HTML on the server, and the CSP
allows scripts and styles only from this origin.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from poll_api.deps import RoomCodeDep

router = APIRouter(tags=["pages"], include_in_schema=False)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}
ASSETS = {
    "common.js": "text/javascript; charset=utf-8",
    "host.js": "text/javascript; charset=utf-8",
    "present.js": "text/javascript; charset=utf-8",
    "host.css": "text/css; charset=utf-8",
}


@cache
def static_file(name: str) -> bytes:
    return resources.files("poll_api").joinpath("static", name).read_bytes()


def page(name: str, media_type: str = "text/html; charset=utf-8") -> Response:
    return Response(content=static_file(name), media_type=media_type, headers=PAGE_HEADERS)


@router.get("/host/assets/{name}")
async def host_asset(name: str) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        return JSONResponse({"detail": "not found"}, status_code=404)
    return page(name, media_type)


@router.get("/host")
async def host_console() -> Response:
    return page("host.html")


@router.get("/host/{room_code}")
async def host_console_for(room_code: RoomCodeDep) -> Response:
    return page("host.html")


@router.get("/host/{room_code}/present")
async def presenter_view(room_code: RoomCodeDep) -> Response:
    return page("present.html")
