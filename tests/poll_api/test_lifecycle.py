"""open / close / reveal / reset: transitions, state versions, outbox rows, Redis, auth."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from contracts import AuditBatch, PollEvent, PollStateChanged
from tests.poll_api.utils import CLIENT_IP, audit_kinds, bearer, create_poll, outbox_rows
from tests.support.isolation import Resources
from zephyr_runtime.keys import RedisKeys


async def _act(
    client: httpx.AsyncClient, created: dict[str, Any], action: str, **headers: str
) -> httpx.Response:
    return await client.post(
        f"/api/polls/{created['room_code']}/{action}",
        headers={**bearer(created["host_token"]), **headers},
    )


async def _db_state(db: asyncpg.Connection, poll_id: str) -> dict[str, Any]:
    row = await db.fetchrow(
        "SELECT status, revealed, epoch, state_version FROM polls WHERE id = $1",
        uuid.UUID(poll_id),
    )
    assert row is not None
    return dict(row)


async def test_full_lifecycle_changes_state_outbox_and_redis(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    redis_client: aioredis.Redis,
    resources: Resources,
) -> None:
    keys = RedisKeys(resources.redis_prefix)
    created = await create_poll(client)
    state_key = keys.poll_state(created["id"])
    steps = [
        ("open", {"status": "open", "revealed": False, "epoch": 0}, "opened"),
        ("close", {"status": "closed", "revealed": False, "epoch": 0}, "closed"),
        ("reveal", {"status": "closed", "revealed": True, "epoch": 0}, "revealed"),
        ("open", {"status": "open", "revealed": True, "epoch": 0}, "opened"),
        ("reset", {"status": "draft", "revealed": False, "epoch": 1}, "reset"),
        ("open", {"status": "open", "revealed": False, "epoch": 1}, "opened"),
    ]
    for version, (action, expected, event) in enumerate(steps, start=2):
        request_id = f"{action}-{uuid.uuid4().hex[:8]}"
        resp = await _act(client, created, action, **{"X-Request-ID": request_id})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert {k: body[k] for k in expected} == expected
        assert body["state_version"] == version
        assert await _db_state(db, created["id"]) == {**expected, "state_version": version}
        # Redis holds the new state before the host got the answer (closing is exact).
        state = await redis_client.hgetall(state_key)
        assert state["status"] == expected["status"]
        assert state["revealed"] == ("1" if expected["revealed"] else "0")
        assert state["epoch"] == str(expected["epoch"])
        assert state["state_version"] == str(version)

        rows = [
            r
            for r in await outbox_rows(db, created["id"])
            if r["headers"]["x-correlation-id"] == request_id
        ]
        by_type = {r["message_type"]: r for r in rows}
        assert set(by_type) == {
            PollEvent.message_type(),
            PollStateChanged.message_type(),
            AuditBatch.message_type(),
        }
        poll_event = PollEvent.model_validate(by_type[PollEvent.message_type()]["body"])
        assert poll_event.event == event
        assert poll_event.state_version == version
        assert by_type[PollEvent.message_type()]["routing_key"] == f"poll.{event}"
        live = by_type[PollStateChanged.message_type()]
        assert live["exchange"] == "zephyr.live"
        assert live["routing_key"] == f"poll.{created['id']}.state"
        assert PollStateChanged.model_validate(live["body"]).state_version == version
        audit = AuditBatch.model_validate(by_type[AuditBatch.message_type()]["body"])
        assert by_type[AuditBatch.message_type()]["routing_key"] == "audit.poll-api"
        (audit_event,) = audit.events
        assert audit_event.kind == f"question.{event}"  # the poll-level route: the current one
        assert audit_event.data["qid"] == 0
        assert poll_event.qid == 0
        assert audit_event.service == "poll-api"
        assert str(audit_event.poll_id) == created["id"]
        assert audit_event.correlation_id == request_id
        assert audit_event.client_ip == CLIENT_IP
        assert audit_event.data["status"] == expected["status"]
        assert len({r["message_id"] for r in rows}) == 3


@pytest.mark.parametrize(
    ("setup", "action"),
    [
        ([], "close"),
        (["open"], "open"),
        (["open", "close"], "close"),
        (["reveal"], "reveal"),
        ([], "reset"),
        (["open", "reset"], "reset"),
    ],
)
async def test_invalid_transitions_are_409_and_change_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection, setup: list[str], action: str
) -> None:
    created = await create_poll(client)
    for step in setup:
        assert (await _act(client, created, step)).status_code == 200
    before = await _db_state(db, created["id"])
    outbox_before = len(await outbox_rows(db, created["id"]))
    resp = await _act(client, created, action)
    assert resp.status_code == 409
    assert resp.json()["detail"]
    assert await _db_state(db, created["id"]) == before
    assert len(await outbox_rows(db, created["id"])) == outbox_before


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401),
        ({"Authorization": "Bearer"}, 401),
        ({"Authorization": "Bearer "}, 401),
        ({"Authorization": "Bearer not-the-token"}, 403),
        ({"Authorization": "Bearer " + "x" * 5000}, 403),
    ],
)
async def test_missing_or_wrong_token_changes_nothing_and_is_audited(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    redis_client: aioredis.Redis,
    resources: Resources,
    headers: dict[str, str],
    status: int,
) -> None:
    keys = RedisKeys(resources.redis_prefix)
    created = await create_poll(client)
    before = await _db_state(db, created["id"])
    cached_before = await redis_client.hgetall(keys.poll_state(created["id"]))
    for action in ("open", "close", "reveal", "reset"):
        resp = await client.post(f"/api/polls/{created['room_code']}/{action}", headers=headers)
        assert resp.status_code == status, resp.text
        assert resp.json()["detail"]
        if status == 401:
            assert resp.headers["WWW-Authenticate"] == "Bearer"
    assert await _db_state(db, created["id"]) == before
    assert await redis_client.hgetall(keys.poll_state(created["id"])) == cached_before

    rows = await outbox_rows(db, created["id"])
    assert audit_kinds(rows).count("security.auth_failed") == 4
    failures = [
        e
        for r in rows
        if "events" in r["body"]
        for e in r["body"]["events"]
        if e["kind"] == "security.auth_failed"
    ]
    assert {e["client_ip"] for e in failures} == {CLIENT_IP}
    assert {e["data"]["action"] for e in failures} == {"open", "close", "reveal", "reset"}
    assert {e["data"]["status_code"] for e in failures} == {status}
    # Only the audit events were written: no lifecycle message for a refused action.
    assert {
        r["message_type"] for r in rows if r["body"].get("event") not in (None, "created")
    } == set()


async def test_host_action_on_unknown_room_is_404(client: httpx.AsyncClient) -> None:
    resp = await client.post("/api/polls/ZZZZZZ/open", headers=bearer("whatever"))
    assert resp.status_code == 404


async def test_token_of_another_poll_is_refused(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    first = await create_poll(client)
    second = await create_poll(client)
    resp = await client.post(
        f"/api/polls/{second['room_code']}/open", headers=bearer(first["host_token"])
    )
    assert resp.status_code == 403
    assert (await _db_state(db, second["id"]))["status"] == "draft"
