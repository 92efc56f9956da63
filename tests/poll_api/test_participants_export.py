"""The per-participant export, CSV and JSON, paged: against the real Postgres."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from poll_api import participants_export
from tests.poll_api.utils import bearer, create_run

QUESTIONS: list[dict[str, Any]] = [
    {"kind": "single", "prompt": "One?", "options": ["red", "=blue"]},
    {"kind": "multiple", "prompt": "Some?", "options": ["a", "b", "c"], "max_choices": 3},
    {"kind": "rating", "prompt": "Rate?", "min": 1, "max": 5},
    {"kind": "ranking", "prompt": "Order?", "options": ["x", "y", "z"], "rank_count": 2},
    {"kind": "wordcloud", "prompt": "Word?", "max_entries": 3},
]
ANSWERS: list[dict[str, Any]] = [
    {"kind": "single", "option": 1},
    {"kind": "multiple", "options": [0, 2]},
    {"kind": "rating", "value": 4},
    {"kind": "ranking", "ranking": [2, 0]},
    {"kind": "wordcloud", "words": ["Cloud", "fast"]},
]
TEXTS = ["'=blue", "a;c", "4", "z > x", "Cloud;fast"]
T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


async def _seed(db: asyncpg.Connection, poll_id: uuid.UUID, count: int) -> list[uuid.UUID]:
    people = sorted(uuid.uuid4() for _ in range(count))
    await db.executemany(
        "INSERT INTO participants (poll_id, participant_id, nickname, joined_at, last_seen_at)"
        " VALUES ($1, $2, $3, $4, $4)",
        [(poll_id, p, f"p{i}", T0) for i, p in enumerate(people)],
    )
    rows = []
    for i, p in enumerate(people):
        for qid, answer in enumerate(ANSWERS):
            if (i + qid) % 4 == 3:
                continue  # some leave some questions out
            rows.append((poll_id, p, qid, 0, json.dumps(answer), T0 + timedelta(seconds=qid)))
    # An answer of an earlier epoch (before a reset) is not exported.
    rows.append((poll_id, people[0], 0, -1, json.dumps(ANSWERS[0]), T0))
    await db.executemany(
        "INSERT INTO votes (poll_id, participant_id, qid, epoch, answer, cast_at, seq, vote_id)"
        " VALUES ($1, $2, $3, $4, $5::jsonb, $6, 1, gen_random_uuid())"
        " ON CONFLICT (poll_id, qid, participant_id) DO NOTHING",
        rows,
    )
    return people


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(participants_export, "PAGE_SIZE", 40)


async def test_every_participant_with_each_answer_and_its_time(
    client: httpx.AsyncClient, db: asyncpg.Connection, small_pages: None
) -> None:
    run = await create_run(client, QUESTIONS)
    room, token = run["room_code"], run["host_token"]
    people = await _seed(db, uuid.UUID(run["id"]), 130)  # four pages of 40
    resp = await client.get(f"/api/polls/{room}/participants.csv", headers=bearer(token))
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(resp.text)))
    assert rows[0][:3] == ["participant_id", "nickname", "joined_at"]
    assert rows[0][3:5] == ["q1_answer", "q1_answered_at"] and len(rows[0]) == 3 + 2 * 5
    body = rows[1:]
    assert [r[0] for r in body] == [str(p) for p in people]  # every one, once, in id order
    for i, row in enumerate(body):
        for qid in range(5):
            answer, at = row[3 + 2 * qid], row[4 + 2 * qid]
            if (i + qid) % 4 == 3:
                assert (answer, at) == ("", "")
            else:
                assert answer == TEXTS[qid]  # labels, formula-neutralised
                assert datetime.fromisoformat(at) == T0 + timedelta(seconds=qid)
    exported = await client.get(f"/api/polls/{room}/participants.json", headers=bearer(token))
    assert exported.status_code == 200
    doc = exported.json()
    assert doc["poll"]["room_code"] == room and len(doc["questions"]) == 5
    assert [p["participant_id"] for p in doc["participants"]] == [str(p) for p in people]
    first = doc["participants"][0]
    assert first["nickname"] == "p0"
    assert [a["qid"] for a in first["answers"]] == [0, 1, 2, 4]  # qid 3 left out, epoch -1 not
    assert first["answers"][1]["answer"] == ANSWERS[1]


async def test_an_empty_poll_exports_a_header_and_an_empty_list(
    client: httpx.AsyncClient,
) -> None:
    run = await create_run(client, QUESTIONS[:1])
    room, token = run["room_code"], run["host_token"]
    resp = await client.get(f"/api/polls/{room}/participants.csv", headers=bearer(token))
    assert resp.text.splitlines() == ["participant_id,nickname,joined_at,q1_answer,q1_answered_at"]
    doc = (await client.get(f"/api/polls/{room}/participants.json", headers=bearer(token))).json()
    assert doc["participants"] == []


async def test_only_the_host_gets_the_export(client: httpx.AsyncClient) -> None:
    run = await create_run(client, QUESTIONS[:1])
    for path in ("participants.csv", "participants.json"):
        url = f"/api/polls/{run['room_code']}/{path}"
        assert (await client.get(url)).status_code == 401
        assert (await client.get(url, headers=bearer("x" * 43))).status_code == 403
