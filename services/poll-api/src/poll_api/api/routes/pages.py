"""The host's pages: the console (`/host`, `/host/{room_code}`) and the presenter view.

The pages are static files shipped inside the package (`poll_api/static/`); they talk to the
JSON API from the browser. No user data is ever put into HTML on the server, and the CSP
(`zephyr_runtime.page_headers`, the same as the gateway's pages) allows scripts and styles only
from this origin.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

from poll_api.api.deps import RoomCodeDep
from poll_api.errors import error_response
from zephyr_runtime.page_headers import PAGE_HEADERS

router = APIRouter(tags=["pages"], include_in_schema=False)

_HEADERS = dict(PAGE_HEADERS)
ASSETS = {
    "common.js": "text/javascript; charset=utf-8",
    "host.js": "text/javascript; charset=utf-8",
    "host_links.js": "text/javascript; charset=utf-8",
    "host_account.js": "text/javascript; charset=utf-8",
    "host_qa.js": "text/javascript; charset=utf-8",
    "present_qa.js": "text/javascript; charset=utf-8",
    "present.js": "text/javascript; charset=utf-8",
    "quiz.js": "text/javascript; charset=utf-8",
    "wordcloud.js": "text/javascript; charset=utf-8",
    "host_words.js": "text/javascript; charset=utf-8",
    "host_live.js": "text/javascript; charset=utf-8",
    "host_follow.js": "text/javascript; charset=utf-8",
    "host.css": "text/css; charset=utf-8",
    "quiz.css": "text/css; charset=utf-8",
}


@cache
def static_file(name: str) -> bytes:
    return resources.files("poll_api").joinpath("static", name).read_bytes()


def page(name: str, media_type: str = "text/html; charset=utf-8") -> Response:
    return Response(content=static_file(name), media_type=media_type, headers=_HEADERS)


@router.get("/host/assets/{name}")
async def host_asset(name: str) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        return error_response(404, "not found", with_correlation_id=False)
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
