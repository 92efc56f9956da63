"""Timed questions: closed by the timer at `closes_at` (closed_by timer, closed_at = closes_at),
on time and after a restart; every view shows them closed once due, even before that."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import redis.asyncio as aioredis

from contracts import AuditBatch, PollEvent
from tests.poll_api.utils import app_settings, bearer, create_run, outbox_rows, running_app
from tests.support.eventually import eventually
from tests.support.isolation import Resources
from zephyr_runtime.keys import RedisKeys

LIMIT_S = 5  # the shortest time limit a question may have
TIMED: dict[str, Any] = {
    "kind": "single",
    "prompt": "Quick?",
    "options": ["a", "b"],
    "time_limit_s": LIMIT_S,
}


async def _row(db: asyncpg.Connection, poll_id: str, qid: int = 0) -> dict[str, Any]:
    row = await db.fetchrow(
        "SELECT * FROM questions WHERE poll_id = $1 AND qid = $2", uuid.UUID(poll_id), qid
    )
    assert row is not None
    return dict(row)


async def _open(client: httpx.AsyncClient, created: dict[str, Any], index: int = 0) -> datetime:
    resp = await client.post(
        f"/api/polls/{created['room_code']}/questions/{index}/open",
        headers=bearer(created["host_token"]),
    )
    assert resp.status_code == 200, resp.text
    question = resp.json()["questions"][index]
    opened_at = datetime.fromisoformat(question["opened_at"])
    closes_at = datetime.fromisoformat(question["closes_at"])
    assert closes_at - opened_at == timedelta(seconds=LIMIT_S)
    return closes_at


async def _sleep_until(moment: datetime, extra: float = 0.2) -> None:
    await asyncio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds() + extra))


def _closed_events(rows: list[dict[str, Any]]) -> list[PollEvent]:
    events = [
        PollEvent.model_validate(r["body"])
        for r in rows
        if r["message_type"] == PollEvent.message_type()
    ]
    return [e for e in events if e.event == "closed"]


async def test_the_timer_closes_a_question_at_its_deadline(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    redis_client: aioredis.Redis,
    keys: RedisKeys,
) -> None:
    created = await create_run(client, [TIMED, {**TIMED, "time_limit_s": None}])
    closes_at = await _open(client, created)
    await client.post(
        f"/api/polls/{created['room_code']}/questions/1/open",
        headers=bearer(created["host_token"]),
    )
    state = await redis_client.hgetall(keys.poll_state(created["id"]))
    closes_us = (closes_at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    assert state["q0:closes_us"] == str(closes_us)
    assert state["q1:closes_us"] == "0"

    async def closed() -> dict[str, Any] | None:
        row = await _row(db, created["id"])
        return row if row["status"] == "closed" else None

    row = await eventually(closed, timeout=LIMIT_S + 10)
    assert row["closed_by"] == "timer"
    assert row["closed_at"] == row["closes_at"] == closes_at
    # On time: the loop sleeps until the deadline (generous bound for a busy machine).
    assert row["updated_at"] - closes_at < timedelta(seconds=2)
    assert (await _row(db, created["id"], 1))["status"] == "open"  # untimed: still open

    rows = await outbox_rows(db, created["id"])
    (event,) = _closed_events(rows)
    assert (event.qid, event.closed_by) == (0, "timer")
    assert event.poll.questions[0].status == "closed"
    audits = [
        e
        for r in rows
        if r["message_type"] == AuditBatch.message_type()
        for e in AuditBatch.model_validate(r["body"]).events
        if e.kind == "question.closed"
    ]
    assert [(a.data["qid"], a.data["closed_by"]) for a in audits] == [(0, "timer")]
    state = await redis_client.hgetall(keys.poll_state(created["id"]))
    assert state["q0:status"] == "closed" and state["status"] == "closed"
    assert state["q1:status"] == "open"


async def test_after_a_restart_overdue_questions_close_at_once_at_their_deadline(
    resources: object, db: asyncpg.Connection
) -> None:
    async with running_app(app_settings()) as (_, client):
        created = await create_run(client, [TIMED])
        closes_at = await _open(client, created)
    # poll-api is down at the deadline; then one without a timer loop comes up.
    await _sleep_until(closes_at)
    async with running_app(app_settings(timer_enabled=False)) as (_, client):
        assert (await _row(db, created["id"]))["status"] == "open"
        # Every view shows it closed already: the gateway refuses its answers since closes_at.
        public = (await client.get(f"/api/polls/{created['room_code']}")).json()
        assert public["status"] == "closed" and public["questions"][0]["status"] == "closed"
        listed = await client.get(
            f"/api/polls/{created['room_code']}/questions", headers=bearer(created["host_token"])
        )
        (host_view,) = listed.json()["questions"]
        assert host_view["closed_by"] == "timer"
        assert datetime.fromisoformat(host_view["closed_at"]) == closes_at
    # A replica with its timer: the close it missed is recorded at once, as of the deadline.
    async with running_app(app_settings()):

        async def closed() -> dict[str, Any] | None:
            row = await _row(db, created["id"])
            return row if row["status"] == "closed" else None

        row = await eventually(closed, timeout=10)
    assert row["closed_by"] == "timer"
    assert row["closed_at"] == row["closes_at"] == closes_at
    (event,) = _closed_events(await outbox_rows(db, created["id"]))
    assert event.closed_by == "timer"


async def test_a_host_action_on_an_overdue_question_records_the_timer_close_first(
    resources: object, db: asyncpg.Connection
) -> None:
    async with running_app(app_settings(timer_enabled=False)) as (_, client):
        created = await create_run(client, [TIMED])
        first_deadline = await _open(client, created)
        await _sleep_until(first_deadline)
        # Due: it counts as closed, so opening it again is allowed and starts a new deadline.
        second_deadline = await _open(client, created)
        assert second_deadline > first_deadline
        row = await _row(db, created["id"])
        assert (row["status"], row["closes_at"], row["closed_at"]) == (
            "open",
            second_deadline,
            None,
        )
        events = [
            (e.event, e.closed_by)
            for r in await outbox_rows(db, created["id"])
            if r["message_type"] == PollEvent.message_type()
            for e in [PollEvent.model_validate(r["body"])]
        ]
        assert events[-3:] == [("opened", None), ("closed", "timer"), ("opened", None)]
        # Reset clears the deadline: back to draft, a new epoch.
        reset = await client.post(
            f"/api/polls/{created['room_code']}/reset", headers=bearer(created["host_token"])
        )
        assert reset.status_code == 200, reset.text
        question = reset.json()["questions"][0]
        assert (question["status"], question["closes_at"], question["epoch"]) == ("draft", None, 1)
        row = await _row(db, created["id"])
        assert (row["closes_at"], row["opened_at"], row["closed_by"]) == (None, None, None)


async def test_a_timer_close_counts_as_a_write_for_read_your_writes(
    resources: Resources, db: asyncpg.Connection
) -> None:
    # With a read replica configured, the poll's reads go to the primary for a while after
    # every change: the timer's close is one (the replica may still show the question open).
    settings = app_settings(read_database_url=resources.database_url)
    redis = aioredis.from_url(resources.redis_url)
    try:
        async with running_app(settings) as (_, client):
            created = await create_run(client, [TIMED])
            closes_at = await _open(client, created)
            key = f"{resources.redis_prefix}:poll-api:written:{created['room_code']}"
            await redis.delete(key)  # the host's open marked it: only the timer's close now
            await _sleep_until(closes_at)

            async def closed() -> bool:
                return (await _row(db, created["id"]))["status"] == "closed"

            await eventually(closed, timeout=10)
            assert await redis.exists(key) == 1
    finally:
        await redis.aclose()
