"""What the routes do survives Redis being down: answers and changes go on."""

from __future__ import annotations

from tests.poll_api.utils import app_settings, bearer, create_poll, running_app
from tests.support.isolation import Resources


async def test_redis_down_still_serves_and_changes_polls(resources: Resources) -> None:
    settings = app_settings(redis_url="redis://127.0.0.1:1/0", redis_timeout_seconds=0.5)
    async with running_app(settings) as (_, client):
        created = await create_poll(client)
        view = await client.get(f"/api/polls/{created['room_code']}")
        assert view.status_code == 200
        assert view.json()["participant_count"] == 0
        opened = await client.post(
            f"/api/polls/{created['room_code']}/open", headers=bearer(created["host_token"])
        )
        assert opened.status_code == 200
        assert opened.json()["status"] == "open"
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["redis"]["ok"] is False
