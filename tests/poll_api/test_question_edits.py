"""The host's run: append, edit, delete and move questions; edits only while never opened;
a stranger is refused before anything about the run's state is told."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from contracts import PollEvent
from tests.poll_api.utils import audit_kinds, bearer, create_run, outbox_rows

RUN: list[dict[str, Any]] = [
    {"kind": "single", "prompt": "One?", "options": ["a", "b"]},
    {"kind": "rating", "prompt": "Two?"},
    {"kind": "ranking", "prompt": "Three?", "options": ["x", "y", "z"]},
]


def _url(created: dict[str, Any], path: str = "") -> str:
    return f"/api/polls/{created['room_code']}/questions{path}"


async def _call(
    client: httpx.AsyncClient,
    method: str,
    created: dict[str, Any],
    path: str = "",
    json: Any = None,
    token: str | None = None,
) -> httpx.Response:
    headers = bearer(token if token is not None else created["host_token"])
    return await client.request(method, _url(created, path), headers=headers, json=json)


def _prompts(body: dict[str, Any]) -> list[str]:
    return [q["spec"]["prompt"] for q in body["questions"]]


async def _events(db: asyncpg.Connection, poll_id: str) -> list[tuple[str, int | None]]:
    return [
        (event.event, event.qid)
        for r in await outbox_rows(db, poll_id)
        if r["message_type"] == PollEvent.message_type()
        for event in [PollEvent.model_validate(r["body"])]
    ]


async def test_append_edit_delete_and_move(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    created = await create_run(client, RUN)
    added = await _call(client, "POST", created, json={"kind": "wordcloud", "prompt": "Four?"})
    assert added.status_code == 201, added.text
    body = added.json()
    assert _prompts(body) == ["One?", "Two?", "Three?", "Four?"]
    assert body["questions"][3]["qid"] == 3 and body["questions"][3]["status"] == "draft"

    # PATCH merges onto the spec; a new kind replaces it.
    edited = await _call(client, "PATCH", created, "/1", json={"prompt": "Deux?", "max": 7})
    assert edited.status_code == 200, edited.text
    assert edited.json()["questions"][1]["spec"]["max"] == 7
    assert edited.json()["questions"][1]["spec"]["prompt"] == "Deux?"
    swapped = await _call(
        client,
        "PATCH",
        created,
        "/3",
        json={"kind": "single", "prompt": "Q4", "options": ["y", "n"]},
    )
    assert swapped.status_code == 200, swapped.text
    assert swapped.json()["questions"][3]["kind"] == "single"

    moved = await _call(client, "POST", created, "/3/move", json={"to": 0})
    assert moved.status_code == 200, moved.text
    assert _prompts(moved.json()) == ["Q4", "One?", "Deux?", "Three?"]
    assert [q["qid"] for q in moved.json()["questions"]] == [3, 0, 1, 2]
    assert moved.json()["current"] == 1  # question qid 0 stays current, at its new index

    deleted = await _call(client, "DELETE", created, "/2")
    assert deleted.status_code == 200, deleted.text
    assert [q["qid"] for q in deleted.json()["questions"]] == [3, 0, 2]
    again = await _call(client, "POST", created, json={"kind": "rating", "prompt": "Five?"})
    assert again.json()["questions"][-1]["qid"] == 4  # qids are never reused

    rows = await db.fetch(
        "SELECT qid, position FROM questions WHERE poll_id = $1 ORDER BY position",
        uuid.UUID(created["id"]),
    )
    assert [(r["qid"], r["position"]) for r in rows] == [(3, 0), (0, 1), (2, 2), (4, 3)]
    public = (await client.get(f"/api/polls/{created['room_code']}")).json()
    assert [q["index"] for q in public["questions"]] == [0, 1, 2, 3]
    assert (await _events(db, created["id"]))[1:] == [
        ("question_added", 3),
        ("question_edited", 1),
        ("question_edited", 3),
        ("question_moved", 3),
        ("question_deleted", 1),
        ("question_added", 4),
    ]
    kinds = audit_kinds(await outbox_rows(db, created["id"]))
    assert {"question.added", "question.edited", "question.moved", "question.deleted"} <= set(kinds)


async def test_deleting_the_current_question_shows_the_next(client: httpx.AsyncClient) -> None:
    created = await create_run(client, RUN)
    await _call(client, "POST", created, "/2/show")
    resp = await _call(client, "DELETE", created, "/2")
    body = resp.json()
    assert body["current"] == 1 and body["questions"][1]["current"] is True
    resp = await _call(client, "DELETE", created, "/0")
    assert resp.json()["current"] == 0 and _prompts(resp.json()) == ["Two?"]
    last = await _call(client, "DELETE", created, "/0")
    assert last.status_code == 409 and "at least one question" in last.json()["detail"]


async def test_an_opened_question_can_no_longer_be_edited_or_deleted(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    created = await create_run(client, RUN)
    assert (await _call(client, "POST", created, "/1/open")).status_code == 200
    assert (await _call(client, "POST", created, "/1/reset")).status_code == 200
    before = await db.fetchval(
        "SELECT spec::text FROM questions WHERE poll_id = $1 AND qid = 1", uuid.UUID(created["id"])
    )
    for method, json in (("PATCH", {"prompt": "New?"}), ("DELETE", None)):
        resp = await _call(client, method, created, "/1", json=json)
        assert resp.status_code == 409, resp.text
        assert "was opened" in resp.json()["detail"]
    assert (
        await db.fetchval(
            "SELECT spec::text FROM questions WHERE poll_id = $1 AND qid = 1",
            uuid.UUID(created["id"]),
        )
        == before
    )
    # Moving it is fine: its answers follow its qid.
    assert (await _call(client, "POST", created, "/1/move", json={"to": 2})).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body", "where"),
    [
        # As for POST: the loc names the kind, then the setting.
        ("PATCH", "/0", {"options": ["only"]}, ["body", "single", "options"]),
        ("PATCH", "/0", {"colour": "red"}, ["body", "single", "colour"]),
        ("PATCH", "/1", {"max": 11}, ["body", "rating", "max"]),
        ("PATCH", "/0", {"kind": "rating", "options": ["a", "b"]}, ["body", "rating", "options"]),
        ("POST", "", {"kind": "single", "prompt": "x"}, ["body", "single", "options"]),
        ("POST", "/0/move", {"to": 3}, ["body", "to"]),
        ("POST", "/0/move", {"to": -1}, ["body", "to"]),
    ],
)
async def test_invalid_questions_are_422_and_change_nothing(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    method: str,
    path: str,
    body: dict[str, Any],
    where: list[str],
) -> None:
    created = await create_run(client, RUN)
    before = await db.fetch(
        "SELECT qid, position, spec::text FROM questions WHERE poll_id = $1 ORDER BY qid",
        uuid.UUID(created["id"]),
    )
    resp = await _call(client, method, created, path, json=body)
    assert resp.status_code == 422, resp.text
    locations = [p["loc"][: len(where)] for p in resp.json()["detail"]]
    assert where in locations, resp.json()
    after = await db.fetch(
        "SELECT qid, position, spec::text FROM questions WHERE poll_id = $1 ORDER BY qid",
        uuid.UUID(created["id"]),
    )
    assert after == before


async def test_at_most_fifty_questions(client: httpx.AsyncClient) -> None:
    created = await create_run(client, [RUN[0]] * 50)
    resp = await _call(client, "POST", created, json=RUN[1])
    assert resp.status_code == 409 and "at most 50" in resp.json()["detail"]


@pytest.mark.parametrize(("token", "status"), [("", 401), ("not-the-token", 403)])
async def test_a_stranger_is_refused_before_any_409_or_404(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: str, status: int
) -> None:
    created = await create_run(client, RUN)
    assert (await _call(client, "POST", created, "/0/open")).status_code == 200
    # Each of these would be a 409 or 404 for the host.
    attempts: list[tuple[str, str, Any]] = [
        ("POST", "/0/open", None),
        ("PATCH", "/0", {"prompt": "x"}),
        ("DELETE", "/0", None),
        ("POST", "/7/show", None),
        ("POST", "/1/close", None),
        ("POST", "/7/move", {"to": 0}),
        ("GET", "", None),
        ("POST", "", RUN[0]),
    ]
    before = len(await outbox_rows(db, created["id"]))
    for method, path, body in attempts:
        headers = {} if not token else bearer(token)
        resp = await client.request(method, _url(created, path), headers=headers, json=body)
        assert resp.status_code == status, (method, path, resp.text)
    for path in ("open", "close"):
        resp = await client.post(f"/api/polls/{created['room_code']}/{path}", headers={})
        assert resp.status_code == 401
    rows = await outbox_rows(db, created["id"])
    assert audit_kinds(rows[before:]) == ["security.auth_failed"] * (len(attempts) + 2)
    assert {r["message_type"] for r in rows[before:]} == {"zephyr.audit_batch.v1"}


async def test_the_host_lists_full_specs_and_the_public_never_sees_the_answer(
    client: httpx.AsyncClient,
) -> None:
    quiz = {
        "kind": "quiz",
        "prompt": "2+2?",
        "options": ["3", "4"],
        "correct": [1],
        "time_limit_s": 9,
    }
    created = await create_run(client, [quiz])
    listed = await _call(client, "GET", created)
    assert listed.status_code == 200
    (question,) = listed.json()["questions"]
    assert question["spec"]["correct"] == [1] and question["closed_by"] is None
    public = await client.get(f"/api/polls/{created['room_code']}")
    assert "correct" not in public.text
    opened = await _call(client, "POST", created, "/0/open")
    assert "correct" not in opened.text
