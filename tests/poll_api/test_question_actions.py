"""Per-question host actions: show, open, close, reveal, reset; several open at once; events,
audit kinds and the Redis state fields the gateway's accept script reads."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import redis.asyncio as aioredis

from contracts import AuditBatch, PollEvent, PollStateChanged
from contracts.polls import PollView
from tests.poll_api.utils import audit_kinds, bearer, create_run, outbox_rows
from zephyr_runtime.keys import RedisKeys

RUN: list[dict[str, Any]] = [
    {"kind": "single", "prompt": "One?", "options": ["a", "b"]},
    {"kind": "rating", "prompt": "Two?"},
    {"kind": "ranking", "prompt": "Three?", "options": ["x", "y", "z"]},
]


async def _post(
    client: httpx.AsyncClient, created: dict[str, Any], path: str, **kw: Any
) -> httpx.Response:
    return await client.post(
        f"/api/polls/{created['room_code']}/{path}", headers=bearer(created["host_token"]), **kw
    )


async def _ok(client: httpx.AsyncClient, created: dict[str, Any], path: str) -> dict[str, Any]:
    resp = await _post(client, created, path)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def _questions(db: asyncpg.Connection, poll_id: str) -> dict[int, dict[str, Any]]:
    rows = await db.fetch("SELECT * FROM questions WHERE poll_id = $1", uuid.UUID(poll_id))
    return {r["qid"]: dict(r) for r in rows}


async def test_each_question_has_its_own_state_and_several_may_be_open(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    created = await create_run(client, RUN)
    await _ok(client, created, "questions/0/open")
    poll = await _ok(client, created, "questions/2/open")
    assert [q["status"] for q in poll["questions"]] == ["open", "draft", "open"]
    assert poll["current"] == 0 and poll["status"] == "open"
    poll = await _ok(client, created, "questions/0/close")
    assert [q["status"] for q in poll["questions"]] == ["closed", "draft", "open"]
    poll = await _ok(client, created, "questions/2/reveal")
    assert [q["revealed"] for q in poll["questions"]] == [False, False, True]
    poll = await _ok(client, created, "questions/2/reset")
    third = poll["questions"][2]
    assert (third["status"], third["revealed"], third["epoch"]) == ("draft", False, 1)
    assert third["ever_opened"] is True
    rows = await _questions(db, created["id"])
    assert rows[0]["status"] == "closed" and rows[0]["closed_by"] == "host"
    assert rows[0]["closed_at"] is not None and rows[0]["ever_opened"] is True
    assert rows[1]["status"] == "draft" and rows[1]["ever_opened"] is False
    assert (rows[2]["status"], rows[2]["epoch"], rows[2]["opened_at"]) == ("draft", 1, None)


async def test_show_makes_a_question_current_and_poll_routes_follow_it(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    created = await create_run(client, RUN)
    poll = await _ok(client, created, "questions/1/show")
    assert poll["current"] == 1
    assert (poll["question"], poll["kind"], poll["options"]) == ("Two?", "rating", [])
    poll = await _ok(client, created, "open")  # the current question: 1
    assert [q["status"] for q in poll["questions"]] == ["draft", "open", "draft"]
    assert poll["status"] == "open"
    # Showing the current question again is not a change (no event).
    before = len(await outbox_rows(db, created["id"]))
    assert (await _ok(client, created, "questions/1/show"))["current"] == 1
    assert len(await outbox_rows(db, created["id"])) == before
    mirrored = await db.fetchrow(
        "SELECT question, kind, status, current_qid FROM polls WHERE id = $1",
        uuid.UUID(created["id"]),
    )
    assert mirrored is not None
    assert dict(mirrored) == {
        "question": "Two?",
        "kind": "rating",
        "status": "open",
        "current_qid": 1,
    }
    public = (await client.get(f"/api/polls/{created['room_code']}")).json()
    assert public["current"] == 1 and public["status"] == "open"


async def test_repeated_or_impossible_actions_are_409_and_change_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    created = await create_run(client, RUN)
    await _ok(client, created, "questions/1/open")
    for path, words in [
        ("questions/1/open", "already open"),
        ("questions/0/close", "only an open question"),
        ("questions/0/reset", "initial draft"),
    ]:
        before = await _questions(db, created["id"])
        outbox_before = len(await outbox_rows(db, created["id"]))
        resp = await _post(client, created, path)
        assert resp.status_code == 409, resp.text
        assert words in resp.json()["detail"]
        assert await _questions(db, created["id"]) == before
        assert len(await outbox_rows(db, created["id"])) == outbox_before
    await _ok(client, created, "questions/0/reveal")
    assert (await _post(client, created, "questions/0/reveal")).status_code == 409
    for path in ("questions/3/open", "questions/-1/show", "questions/9/results"):
        method = client.get if path.endswith("results") else client.post
        resp = await method(
            f"/api/polls/{created['room_code']}/{path}", headers=bearer(created["host_token"])
        )
        assert resp.status_code == 404, resp.text
        assert "no question at index" in resp.json()["detail"]


async def test_every_change_has_its_event_state_and_audit_kind(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    created = await create_run(client, RUN)
    steps = [
        ("questions/2/show", "shown", 2, "question.shown"),
        ("questions/2/open", "opened", 2, "question.opened"),
        ("close", "closed", 2, "question.closed"),
        ("questions/0/reveal", "revealed", 0, "question.revealed"),
        ("questions/0/reset", "reset", 0, "question.reset"),
    ]
    for version, (path, event, qid, kind) in enumerate(steps, start=2):
        request_id = f"q-{uuid.uuid4().hex[:8]}"
        resp = await client.post(
            f"/api/polls/{created['room_code']}/{path}",
            headers={**bearer(created["host_token"]), "X-Request-ID": request_id},
        )
        assert resp.status_code == 200, resp.text
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
        assert (poll_event.event, poll_event.qid, poll_event.state_version) == (
            event,
            qid,
            version,
        )
        assert poll_event.closed_by == ("host" if event == "closed" else None)
        assert by_type[PollEvent.message_type()]["routing_key"] == f"poll.{event}"
        assert len(poll_event.poll.questions) == len(RUN)
        state = PollStateChanged.model_validate(by_type[PollStateChanged.message_type()]["body"])
        assert (state.qid, state.state_version) == (qid, version)
        assert state.poll == poll_event.poll
        (audit,) = AuditBatch.model_validate(by_type[AuditBatch.message_type()]["body"]).events
        assert audit.kind == kind
        assert audit.data["qid"] == qid
        assert audit.data["index"] == qid
        assert audit.data["state_version"] == version


async def test_redis_state_has_every_field_of_every_question(
    client: httpx.AsyncClient, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    created = await create_run(client, [*RUN, {**RUN[0], "prompt": "Timed", "time_limit_s": 60}])
    await _ok(client, created, "questions/2/show")
    await _ok(client, created, "questions/0/open")
    await _ok(client, created, "questions/1/open")
    await _ok(client, created, "questions/1/close")
    await _ok(client, created, "questions/2/open")
    await _ok(client, created, "questions/2/reset")
    poll = await _ok(client, created, "questions/3/open")
    state = await redis_client.hgetall(keys.poll_state(created["id"]))
    assert state["state_version"] == str(poll["state_version"])
    assert state["current"] == "2"
    # The current question's, as a first-version gateway reads them.
    assert (state["status"], state["epoch"], state["revealed"]) == ("draft", "1", "0")
    assert [state[f"q{i}:status"] for i in range(4)] == ["open", "closed", "draft", "open"]
    assert [state[f"q{i}:epoch"] for i in range(4)] == ["0", "0", "1", "0"]
    assert [state[f"q{i}:closes_us"] for i in range(3)] == ["0", "0", "0"]
    closes_at = poll["questions"][3]["closes_at"]
    expected_us = round(datetime.fromisoformat(closes_at).timestamp() * 1_000_000)
    assert abs(int(state["q3:closes_us"]) - expected_us) <= 1
    view = PollView.model_validate_json(state["view"])
    assert view.current == 2 and [q.qid for q in view.questions] == [0, 1, 2, 3]
    assert "correct" not in state["view"]


async def test_a_deleted_question_leaves_the_redis_state(
    client: httpx.AsyncClient, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    created = await create_run(client, RUN)
    resp = await client.delete(
        f"/api/polls/{created['room_code']}/questions/1", headers=bearer(created["host_token"])
    )
    assert resp.status_code == 200, resp.text
    state = await redis_client.hgetall(keys.poll_state(created["id"]))
    assert "q1:status" not in state
    assert state["q2:status"] == "draft"


async def test_a_session_run_question_by_question_is_audited_per_question(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """The host's side of tests/e2e/test_question_run.py: show and open each question through
    the poll-level routes, then open an earlier one again by its index."""
    created = await create_run(client, [*RUN, RUN[0]], title="Retro")
    for index in range(4):
        await _ok(client, created, f"questions/{index}/show")
        poll = await _ok(client, created, "open")
        assert poll["current"] == index and poll["questions"][index]["status"] == "open"
        await _ok(client, created, "close")
    poll = await _ok(client, created, "questions/1/open")
    assert [q["status"] for q in poll["questions"]] == ["closed", "open", "closed", "closed"]
    kinds = audit_kinds(await outbox_rows(db, created["id"]))
    assert kinds.count("question.opened") == 5
    assert kinds.count("question.shown") == 3  # question 0 was current already
    assert kinds.count("question.closed") == 4
    assert kinds[0] == "poll.created"


async def test_concurrent_actions_on_one_poll_are_serialised(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    created = await create_run(client, RUN)
    answers = await asyncio.gather(
        *(_post(client, created, f"questions/{i}/open") for i in range(len(RUN)))
    )
    assert [a.status_code for a in answers] == [200] * len(RUN)
    assert sorted(a.json()["state_version"] for a in answers) == [2, 3, 4]
    statuses = await db.fetch(
        "SELECT status FROM questions WHERE poll_id = $1", uuid.UUID(created["id"])
    )
    assert {r["status"] for r in statuses} == {"open"}
