"""poll-api's HTTP hardening, in-process with tight settings on the security stack's resources
(so its audit events reach the stack's audit-sink): rate limits with their headers, trusted
proxies, body limit, security headers, CORS, error bodies and host accounts."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from poll_api.main import create_app
from poll_api.settings import Settings
from tests.security.helpers import wait_for_event
from tests.support.eventually import eventually
from tests.support.isolation import Resources
from tests.support.procs import Stack

pytestmark = pytest.mark.e2e

HOST_KEY = "k" * 40
OPTIONS = {"question": "Tea or coffee?", "options": ["Tea", "Coffee"]}


@asynccontextmanager
async def api(res: Resources, client_ip: str, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": res.database_url,
        "amqp_url": res.amqp_url,
        "redis_url": res.redis_url,
        "redis_prefix": res.redis_prefix,
        "relay_poll_seconds": 0.2,
        "security_event_window_seconds": 1.0,
        **overrides,
    }
    app = create_app(Settings(**values))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(client_ip, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
            # Ready means connected to RabbitMQ too: stopping mid-connect leaves aio-pika tasks.
            async def ready() -> bool:
                return (await http.get("/health/ready")).status_code == 200

            await eventually(ready, timeout=60, what="poll-api ready")
            yield http


async def test_a_flood_gets_429_with_retry_after_and_ratelimit_headers(
    sec_stack: Stack, sec_resources: Resources
) -> None:
    async with api(sec_resources, "192.0.2.50", rate_limit_create_ip="3/1m") as http:
        answers = [await http.post("/api/polls", json=OPTIONS) for _ in range(6)]
        assert [a.status_code for a in answers] == [201, 201, 201, 429, 429, 429]
        ok, limited = answers[0], answers[3]
        assert ok.headers["RateLimit-Limit"] == "3"
        assert ok.headers["RateLimit-Remaining"] == "2"
        assert int(ok.headers["RateLimit-Reset"]) >= 1
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.headers["RateLimit-Remaining"] == "0"
        assert limited.json()["correlation_id"] == limited.headers["X-Request-ID"]
        # Reading is another budget: the flood of creations does not block it.
        room = ok.json()["room_code"]
        assert (await http.get(f"/api/polls/{room}")).status_code == 200
    # Another client is not slowed by the flood.
    async with api(sec_resources, "192.0.2.51", rate_limit_create_ip="3/1m") as other:
        assert (await other.post("/api/polls", json=OPTIONS)).status_code == 201
    events = await wait_for_event(
        sec_resources.database_url, "security.rate_limited", client_ip="192.0.2.50"
    )
    assert events[0]["service"] == "poll-api"
    assert events[0]["data"]["reason"] == "create_ip"


async def test_host_actions_are_limited_per_room(
    sec_stack: Stack, sec_resources: Resources
) -> None:
    async with api(sec_resources, "192.0.2.60", rate_limit_host_action_room="4/1m") as http:
        poll = (await http.post("/api/polls", json=OPTIONS)).json()
        auth = {"Authorization": f"Bearer {poll['host_token']}"}
        codes = []
        for action in ("open", "close", "open", "close", "open"):
            codes.append(
                (
                    await http.post(f"/api/polls/{poll['room_code']}/{action}", headers=auth)
                ).status_code
            )
        assert codes == [200, 200, 200, 200, 429]


async def test_forwarded_for_is_believed_only_from_trusted_proxies(
    sec_stack: Stack, sec_resources: Resources
) -> None:
    tight = {"rate_limit_create_ip": "1/1m"}
    # From an untrusted peer, X-Forwarded-For is ignored: both requests are the peer's.
    async with api(sec_resources, "192.0.2.70", **tight) as http:
        first = await http.post("/api/polls", json=OPTIONS, headers={"X-Forwarded-For": "1.1.1.1"})
        second = await http.post("/api/polls", json=OPTIONS, headers={"X-Forwarded-For": "2.2.2.2"})
        assert (first.status_code, second.status_code) == (201, 429)
    # Behind a trusted proxy, each forwarded client has its own budget.
    async with api(sec_resources, "10.9.8.7", trusted_proxies="10.0.0.0/8", **tight) as http:
        for client in ("198.18.0.1", "198.18.0.2"):
            chain = f"6.6.6.6, {client}"  # the left part is whatever the client claimed
            resp = await http.post("/api/polls", json=OPTIONS, headers={"X-Forwarded-For": chain})
            assert resp.status_code == 201, resp.text
        again = await http.post(
            "/api/polls", json=OPTIONS, headers={"X-Forwarded-For": "198.18.0.1"}
        )
        assert again.status_code == 429
    await wait_for_event(
        sec_resources.database_url, "security.rate_limited", client_ip="198.18.0.1"
    )


async def test_security_headers_body_limit_and_error_bodies(
    sec_stack: Stack, sec_resources: Resources
) -> None:
    async with api(sec_resources, "192.0.2.80", max_body_bytes=2048) as http:
        resp = await http.get("/health/live")
        csp = resp.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert "Strict-Transport-Security" not in resp.headers  # plain HTTP here
        created = await http.post("/api/polls", json=OPTIONS)
        assert created.headers["Cache-Control"] == "no-store"  # it holds the host token
        big = await http.post("/api/polls", json={"question": "x" * 3000, "options": ["a", "b"]})
        assert big.status_code == 413
        assert big.json()["correlation_id"] == big.headers["X-Request-ID"]
        for method, path, status in (
            ("GET", "/nowhere", 404),
            ("DELETE", "/api/polls", 405),
            ("GET", "/api/polls/ZZZZZZ", 404),
        ):
            answer = await http.request(method, path)
            assert answer.status_code == status
            body = answer.json()
            assert set(body) == {"detail", "correlation_id"}, body
            assert body["correlation_id"] == answer.headers["X-Request-ID"]
            assert "Traceback" not in answer.text
    async with api(sec_resources, "192.0.2.81", served_over_tls=True) as http:
        hsts = (await http.get("/health/live")).headers["Strict-Transport-Security"]
        assert hsts.startswith("max-age=31536000")
    await wait_for_event(
        sec_resources.database_url,
        "security.invalid_input",
        client_ip="192.0.2.80",
        reason="body_too_large",
    )


async def test_cors_allows_only_listed_origins_and_never_credentials(
    sec_stack: Stack, sec_resources: Resources
) -> None:
    allowed = "https://host.example.org"
    async with api(sec_resources, "192.0.2.90", cors_allow_origins=allowed) as http:
        preflight = {"Access-Control-Request-Method": "POST"}
        ok = await http.options("/api/polls", headers={"Origin": allowed, **preflight})
        assert ok.headers["access-control-allow-origin"] == allowed
        assert "access-control-allow-credentials" not in ok.headers
        bad = await http.options(
            "/api/polls", headers={"Origin": "https://evil.example.net", **preflight}
        )
        assert "access-control-allow-origin" not in bad.headers
        simple = await http.get("/health/live", headers={"Origin": "https://evil.example.net"})
        assert "access-control-allow-origin" not in simple.headers
    with pytest.raises(ValueError, match="not accepted"):
        Settings(cors_allow_origins="*")


async def test_host_accounts_guard_poll_creation(
    sec_stack: Stack, sec_resources: Resources
) -> None:
    digest = hashlib.sha256(HOST_KEY.encode()).hexdigest()
    async with api(
        sec_resources, "192.0.2.100", host_auth_enabled=True, host_api_keys=f"sha256:{digest}"
    ) as http:
        missing = await http.post("/api/polls", json=OPTIONS)
        assert missing.status_code == 401
        wrong = await http.post(
            "/api/polls", json=OPTIONS, headers={"Authorization": "Bearer " + "w" * 40}
        )
        assert wrong.status_code == 403
        right = await http.post(
            "/api/polls", json=OPTIONS, headers={"Authorization": f"Bearer {HOST_KEY}"}
        )
        assert right.status_code == 201
        # The poll's own host token still controls it (the API key is only for creating).
        opened = await http.post(
            f"/api/polls/{right.json()['room_code']}/open",
            headers={"Authorization": f"Bearer {right.json()['host_token']}"},
        )
        assert opened.status_code == 200
    events = await wait_for_event(
        sec_resources.database_url, "security.auth_failed", client_ip="192.0.2.100"
    )
    assert {e["data"]["reason"] for e in events} <= {"missing_key", "wrong_key"}
    with pytest.raises(ValueError, match="host_api_keys"):
        Settings(host_auth_enabled=True)
    with pytest.raises(ValueError, match="at least 32"):
        Settings(host_auth_enabled=True, host_api_keys="short")
