"""Errors as answers: an unavailable database is a 503 with Retry-After."""

from __future__ import annotations

from tests.poll_api.utils import app_settings, running_app
from tests.support.isolation import Resources


async def test_database_down_is_503_with_retry_after(resources: Resources) -> None:
    settings = app_settings(database_url="postgresql://postgres@127.0.0.1:1/nowhere")
    async with running_app(settings) as (_, client):
        created = await client.post("/api/polls", json={"question": "q", "options": ["a", "b"]})
        assert created.status_code == 503
        assert created.headers["Retry-After"] == "2"
        assert "unavailable" in created.json()["detail"]
        view = await client.get("/api/polls/ABCDEF")
        assert view.status_code == 503
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["status"] == "unavailable"
        ok = {name: check["ok"] for name, check in ready.json()["checks"].items()}
        assert (ok["postgres"], ok["redis"]) == (False, True)
