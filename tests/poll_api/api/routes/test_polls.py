"""POST /api/polls (room code, host token stored only hashed, outbox rows, validation) and
GET /api/polls/{room_code} (the public view)."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import timedelta

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from contracts import AuditBatch, PollEvent, PollStateChanged
from contracts.polls import ROOM_CODE_PATTERN, PollView
from tests.poll_api.utils import app_settings, audit_kinds, create_poll, outbox_rows, running_app
from zephyr_runtime.keys import RedisKeys


async def test_create_returns_room_code_and_token_and_stores_only_the_hash(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    request_id = f"create-{uuid.uuid4().hex}"
    resp = await client.post(
        "/api/polls",
        json={
            "question": "  Lunch?  ",
            "options": ["Pizza", "Sushi"],
            "kind": "single",
            "settings": {"hide_results_until_reveal": True},
        },
        headers={"X-Request-ID": request_id},
    )
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert re.fullmatch(ROOM_CODE_PATTERN, created["room_code"])
    token = created["host_token"]
    assert len(token) >= 43
    poll = created["poll"]
    assert poll["id"] == created["id"]
    assert poll["question"] == "Lunch?"
    assert poll["options"] == ["Pizza", "Sushi"]
    assert poll["status"] == "draft"
    assert poll["revealed"] is False
    assert poll["epoch"] == 0
    assert poll["state_version"] == 1
    assert poll["hide_results_until_reveal"] is True
    assert poll["results"] is None
    assert "host_token_hash" not in poll

    row = await db.fetchrow("SELECT * FROM polls WHERE id = $1", uuid.UUID(created["id"]))
    assert row is not None
    assert row["room_code"] == created["room_code"]
    assert row["host_token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    whole_row = await db.fetchval(
        "SELECT row_to_json(p)::text FROM polls p WHERE id = $1", uuid.UUID(created["id"])
    )
    assert token not in whole_row
    assert row["expires_at"] - row["created_at"] == timedelta(days=30)

    rows = await outbox_rows(db, created["id"])
    types = sorted(r["message_type"] for r in rows)
    assert types == sorted(
        [PollEvent.message_type(), PollStateChanged.message_type(), AuditBatch.message_type()]
    )
    event = next(r for r in rows if r["message_type"] == PollEvent.message_type())
    assert event["exchange"] == "zephyr.polls"
    assert event["routing_key"] == "poll.created"
    assert PollEvent.model_validate(event["body"]).event == "created"
    assert all(r["headers"]["x-correlation-id"] == request_id for r in rows)
    assert audit_kinds(rows) == ["poll.created"]


async def test_expiry_comes_from_the_body_or_the_settings(
    resources: object, db: asyncpg.Connection
) -> None:
    async with running_app(app_settings(default_expiry_days=7)) as (_, client):
        default = await create_poll(client)
        custom = await create_poll(client, expires_in_days=2)
    for created, days in ((default, 7), (custom, 2)):
        row = await db.fetchrow(
            "SELECT created_at, expires_at FROM polls WHERE id = $1", uuid.UUID(created["id"])
        )
        assert row["expires_at"] - row["created_at"] == timedelta(days=days)


async def test_join_url_uses_the_public_base_url(resources: object) -> None:
    settings = app_settings(public_base_url="https://vote.example.org/")
    async with running_app(settings) as (_, client):
        created = await create_poll(client)
    assert created["join_url"] == f"https://vote.example.org/join/{created['room_code']}"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"question": "", "options": ["a", "b"]}, "question"),
        ({"question": "   ", "options": ["a", "b"]}, "question"),
        ({"question": "q" * 301, "options": ["a", "b"]}, "question"),
        ({"options": ["a", "b"]}, "question"),
        ({"question": "q", "options": ["only one"]}, "options"),
        ({"question": "q", "options": [f"o{i}" for i in range(21)]}, "options"),
        ({"question": "q", "options": ["Yes", "yes"]}, "options"),
        ({"question": "q", "options": ["a", ""]}, "options"),
        ({"question": "q", "options": ["a", "x" * 121]}, "options"),
        ({"question": "q", "options": ["a", "b"], "kind": "multiple"}, "kind"),
        ({"question": "q", "options": ["a", "b"], "expires_in_days": 0}, "expires_in_days"),
        ({"question": "q", "options": ["a", "b"], "expires_in_days": 366}, "expires_in_days"),
        ({"question": "q", "options": ["a", "b"], "host": "me"}, "host"),
        ({"question": "q", "options": ["a", "b"], "settings": {"x": 1}}, "settings"),
    ],
)
async def test_invalid_bodies_get_422_naming_the_field(
    client: httpx.AsyncClient, db: asyncpg.Connection, body: dict[str, object], field: str
) -> None:
    before = await db.fetchval("SELECT count(*) FROM polls")
    resp = await client.post("/api/polls", json=body)
    assert resp.status_code == 422, resp.text
    locations = [err["loc"] for err in resp.json()["detail"]]
    assert any(field in loc for loc in locations), locations
    assert "Traceback" not in resp.text
    assert await db.fetchval("SELECT count(*) FROM polls") == before


async def test_non_json_body_is_a_clear_422(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/api/polls", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 422
    assert resp.json()["detail"]


async def test_public_view_has_every_poll_view_field(client: httpx.AsyncClient) -> None:
    created = await create_poll(client, settings={"hide_results_until_reveal": True})
    resp = await client.get(f"/api/polls/{created['room_code'].lower()}")
    assert resp.status_code == 200
    body = resp.json()
    view = PollView.model_validate({k: body[k] for k in PollView.model_fields})
    assert str(view.id) == created["id"]
    assert view.room_code == created["room_code"]
    assert view.question == "Best colour?"
    assert view.options == ["Red", "Green", "Blue"]
    assert view.status == "draft"
    assert view.hide_results_until_reveal is True
    for extra in ("state_version", "participant_count", "created_at", "opened_at", "closed_at"):
        assert extra in body
    assert body["expires_at"]
    assert body["results"] is None
    assert "host_token" not in resp.text
    assert "host_token_hash" not in resp.text


@pytest.mark.parametrize("code", ["ZZZZZZ", "abc", "ABCDE0", "ABCDEFG", "!!!!!!", "ABC%20D"])
async def test_unknown_or_malformed_room_code_is_404(client: httpx.AsyncClient, code: str) -> None:
    resp = await client.get(f"/api/polls/{code}")
    assert resp.status_code == 404
    assert resp.json() == {
        "detail": "no poll with this room code",
        "correlation_id": resp.headers["X-Request-ID"],
    }


async def test_participant_count_comes_from_the_nickname_hash(
    client: httpx.AsyncClient, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    created = await create_poll(client)
    await redis_client.hset(keys.nicknames(created["id"]), mapping={"ann": "p1", "bob": "p2"})
    resp = await client.get(f"/api/polls/{created['room_code']}")
    assert resp.json()["participant_count"] == 2
