"""The pages over plain HTTP: routes, content types, security headers, the QR code and 404s."""

from __future__ import annotations

import httpx
import pytest

from tests.support.procs import Stack

pytestmark = pytest.mark.browser

CSP_MUSTS = ("default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors")


def assert_page_headers(resp: httpx.Response, content_type: str) -> None:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith(content_type)
    csp = resp.headers["content-security-policy"]
    for must in CSP_MUSTS:
        assert must in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert resp.headers["x-content-type-options"] == "nosniff"


def create_poll(api_url: str) -> str:
    created = httpx.post(
        f"{api_url}/api/polls", json={"question": "Q?", "options": ["A", "B"]}, timeout=10
    )
    assert created.status_code == 201, created.text
    return str(created.json()["room_code"])


def test_the_gateway_serves_the_participant_page_and_its_assets(stack: Stack) -> None:
    gateway = stack["ws_gateway"].url
    with httpx.Client(base_url=gateway, timeout=10) as http:
        for path in ("/", "/ABCDEF", "/abcdef", "/join/ABCDEF", "/join/abcdef/"):
            page = http.get(path)
            assert_page_headers(page, "text/html")
            assert "/assets/app.js" in page.text
            assert "<script>" not in page.text  # no inline script anywhere
            assert " style=" not in page.text
        assert_page_headers(http.get("/assets/app.js"), "text/javascript")
        assert_page_headers(http.get("/assets/app.css"), "text/css")
        # Not room codes (0, O, 1, I, L are not in the alphabet; wrong length) or not ours.
        for path in ("/ABCDE0", "/ABCDEFG", "/join/", "/assets/nope.js", "/static/app.js"):
            missing = http.get(path)
            assert missing.status_code == 404, path
            assert missing.json() == {"detail": "not found"}
        assert http.get("/health/live").json() == {"status": "ok"}


def test_poll_api_serves_the_console_presenter_qr_and_join_link(stack: Stack) -> None:
    api, gateway = stack["poll_api"].url, stack["ws_gateway"].url
    room = create_poll(api)
    with httpx.Client(base_url=api, timeout=10) as http:
        for path in ("/host", f"/host/{room}", f"/host/{room.lower()}", f"/host/{room}/present"):
            page = http.get(path)
            assert_page_headers(page, "text/html")
            assert "<script>" not in page.text
            assert " style=" not in page.text
        for name, kind in (
            ("host.js", "text/javascript"),
            ("present.js", "text/javascript"),
            ("common.js", "text/javascript"),
            ("host.css", "text/css"),
        ):
            assert_page_headers(http.get(f"/host/assets/{name}"), kind)
        assert http.get("/host/assets/host.html").status_code == 404
        assert http.get("/host/assets/..%2Fqr.py").status_code == 404
        assert http.get("/host/NOTACODE").status_code == 404

        link = http.get(f"/api/polls/{room}/join")
        assert link.status_code == 200
        assert link.json() == {"room_code": room, "join_url": f"{gateway}/join/{room}"}

        qr = http.get(f"/api/polls/{room.lower()}/qr.svg")
        assert qr.status_code == 200
        assert qr.headers["content-type"].startswith("image/svg+xml")
        assert qr.text.startswith("<svg") and "viewBox" in qr.text
        assert "<script" not in qr.text

        assert http.get("/api/polls/ZZZZZZ/qr.svg").status_code == 404
        assert http.get("/api/polls/ZZZZZZ/join").status_code == 404
        # The HTML routes stay out of the OpenAPI document; the JSON ones are in it.
        paths = http.get("/openapi.json").json()["paths"]
        assert "/host" not in paths
        assert "/api/polls/{room_code}/qr.svg" in paths
