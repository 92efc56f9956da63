"""The participant page and its assets: which paths serve them, with the strict page headers."""

from __future__ import annotations

import pytest

from ws_gateway.pages import serve_page
from zephyr_runtime.page_headers import PAGE_CONTENT_SECURITY_POLICY, PAGE_HEADERS


@pytest.mark.parametrize("path", ["/", "/ABCDEF", "/abcdef/", "/join/ABCDEF", "/join/abcdef"])
def test_page_paths_serve_the_page_with_the_page_headers(path: str) -> None:
    page = serve_page(path)
    assert page is not None
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Content-Length"] == str(len(page.body or b""))
    assert page.headers["Content-Security-Policy"] == PAGE_CONTENT_SECURITY_POLICY
    for name, value in PAGE_HEADERS:
        assert page.headers[name] == value


def test_assets_have_their_types_and_other_paths_are_not_pages() -> None:
    script, style = serve_page("/assets/app.js"), serve_page("/assets/app.css")
    assert script is not None and script.headers["Content-Type"].startswith("text/javascript")
    assert style is not None and style.headers["Content-Type"].startswith("text/css")
    for path in ("/nope", "/ABCDE", "/join/ABCDEFG", "/assets/other.js", "/ws/ABCDEF"):
        assert serve_page(path) is None
