"""Errors as answers: an unavailable database is a 503 with Retry-After."""

from __future__ import annotations

import asyncpg

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


async def test_a_statement_past_its_timeout_is_503_and_changes_nothing(
    resources: Resources,
) -> None:
    # Another transaction holds the poll's row: the host action waits on the lock until
    # Postgres cancels it at `statement_timeout` (SQLSTATE 57014), a 503 and not a 500.
    settings = app_settings(db_statement_timeout_seconds=0.5)
    async with running_app(settings) as (_, client):
        created = await client.post("/api/polls", json={"question": "q", "options": ["a", "b"]})
        assert created.status_code == 201, created.text
        poll = created.json()
        room, auth = poll["room_code"], {"Authorization": f"Bearer {poll['host_token']}"}
        holder = await asyncpg.connect(resources.database_url)
        try:
            async with holder.transaction():
                await holder.execute("SELECT 1 FROM polls WHERE room_code = $1 FOR UPDATE", room)
                refused = await client.post(f"/api/polls/{room}/open", headers=auth)
            assert refused.status_code == 503, refused.text
            assert refused.headers["Retry-After"] == "2"
            assert refused.json()["detail"] == "database unavailable, retry shortly"
            assert "Traceback" not in refused.text
            still = await client.get(f"/api/polls/{room}")
            assert still.json()["status"] == "draft"  # the refused action changed nothing
        finally:
            await holder.close()
        opened = await client.post(f"/api/polls/{room}/open", headers=auth)
        assert opened.status_code == 200, opened.text
        assert opened.json()["status"] == "open"
