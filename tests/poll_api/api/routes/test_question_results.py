"""Results of a run of questions: every question's aggregate from its `tallies` row, one
question's at the top level, the CSV of every question, and who may read which."""

from __future__ import annotations

import csv
import io
from typing import Any

import asyncpg
import httpx

from tests.poll_api.utils import bearer, create_run, set_tally

RUN: list[dict[str, Any]] = [
    {"kind": "single", "prompt": "Lunch?", "options": ["Pizza", "Soup"]},
    {"kind": "multiple", "prompt": "Langs?", "options": ["Py", "Rs", "Go"], "max_choices": 2},
    {"kind": "rating", "prompt": "=How was it?", "min": 0, "max": 3},
    {"kind": "ranking", "prompt": "Order", "options": ["A", "B", "C"], "rank_count": 2},
    {"kind": "wordcloud", "prompt": "A word"},
]
ANSWERS: dict[int, list[dict[str, Any]]] = {
    0: [{"kind": "single", "option": 1}, {"kind": "single", "option": 1}],
    1: [{"kind": "multiple", "options": [0, 2]}, {"kind": "multiple", "options": [2]}],
    2: [
        {"kind": "rating", "value": 3},
        {"kind": "rating", "value": 0},
        {"kind": "rating", "value": 2},
    ],
    3: [{"kind": "ranking", "ranking": [2, 0]}, {"kind": "ranking", "ranking": [2, 1]}],
    # wordcloud (qid 4): no answer yet, so no row: the kind's empty aggregate
}


async def _seeded(client: httpx.AsyncClient, db: asyncpg.Connection) -> dict[str, Any]:
    created = await create_run(client, RUN)
    for qid, answers in ANSWERS.items():
        await set_tally(db, created["id"], RUN[qid], answers, qid=qid, version=qid + 10)
    return created


async def _get(
    client: httpx.AsyncClient, created: dict[str, Any], path: str, host: bool = True
) -> httpx.Response:
    headers = bearer(created["host_token"]) if host else {}
    return await client.get(f"/api/polls/{created['room_code']}/{path}", headers=headers)


async def test_every_question_has_its_kinds_aggregate(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    created = await _seeded(client, db)
    resp = await _get(client, created, "results")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    # The current question (a single choice) at the top level, as the first version had it.
    assert (body["counts"], body["total"], body["version"]) == ([0, 2], 2, 10)
    assert body["options"][1] == {"index": 1, "text": "Soup", "count": 2, "percent": 100.0}
    assert body["current"] == 0
    single, multiple, rating, ranking, cloud = body["questions"]
    assert [q["qid"] for q in body["questions"]] == [0, 1, 2, 3, 4]
    assert single["counts"] == [0, 2] and single["labels"] == ["Pizza", "Soup"]
    assert (multiple["counts"], multiple["total"]) == ([1, 0, 2], 2)
    assert multiple["options"][2]["percent"] == 100.0  # of respondents
    assert (rating["counts"], rating["sum"], rating["mean"]) == ([1, 0, 1, 1], 5, "1.67")
    assert "options" not in rating and "points" not in rating
    assert (ranking["points"], ranking["average"], ranking["total"]) == (
        [1, 1, 4],
        ["0.50", "0.50", "2.00"],
        2,
    )
    assert "counts" not in ranking
    assert (cloud["words"], cloud["distinct"], cloud["total"], cloud["version"]) == ([], 0, 0, 0)
    assert all(q["status"] == "draft" and q["revealed"] is False for q in body["questions"])

    one = await _get(client, created, "questions/3/results")
    assert one.status_code == 200, one.text
    assert one.json()["points"] == [1, 1, 4]
    assert one.json()["room_code"] == created["room_code"]
    assert one.json()["prompt"] == "Order" and one.json()["index"] == 3


async def test_a_reset_question_shows_zeros_until_the_worker_catches_up(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    created = await _seeded(client, db)
    for action in ("open", "reset"):
        resp = await client.post(
            f"/api/polls/{created['room_code']}/questions/2/{action}",
            headers=bearer(created["host_token"]),
        )
        assert resp.status_code == 200
    rating = (await _get(client, created, "questions/2/results")).json()
    assert (rating["epoch"], rating["counts"], rating["total"], rating["mean"]) == (
        1,
        [0, 0, 0, 0],
        0,
        None,
    )


async def test_results_are_public_once_revealed_and_only_those(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    created = await _seeded(client, db)
    for path in ("results", "results.csv", "questions/3/results"):
        assert (await _get(client, created, path, host=False)).status_code == 401
    reveal = await client.post(
        f"/api/polls/{created['room_code']}/questions/3/reveal",
        headers=bearer(created["host_token"]),
    )
    assert reveal.status_code == 200
    assert (await _get(client, created, "questions/3/results", host=False)).json()["points"] == [
        1,
        1,
        4,
    ]
    assert (await _get(client, created, "questions/2/results", host=False)).status_code == 401
    # The poll-wide results follow the current question (0, not revealed yet).
    assert (await _get(client, created, "results", host=False)).status_code == 401
    await client.post(
        f"/api/polls/{created['room_code']}/reveal", headers=bearer(created["host_token"])
    )
    public = (await _get(client, created, "results", host=False)).json()
    assert [q["qid"] for q in public["questions"]] == [0, 3]  # the revealed ones only
    assert public["counts"] == [0, 2]
    poll = (await client.get(f"/api/polls/{created['room_code']}")).json()
    assert poll["results"]["counts"] == [0, 2]


async def test_the_csv_covers_every_question(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    created = await _seeded(client, db)
    resp = await _get(client, created, "results.csv")
    assert resp.status_code == 200
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    header = next(csv.reader(io.StringIO(resp.text)))
    assert header[:4] == ["option_index", "option", "count", "percent"]
    by_question: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_question.setdefault(row["question_index"], []).append(row)
    assert sorted(by_question) == ["0", "1", "2", "3"]  # the word cloud has no word yet
    assert [(r["option"], r["count"], r["percent"]) for r in by_question["0"]] == [
        ("Pizza", "0", "0.0"),
        ("Soup", "2", "100.0"),
    ]
    assert {r["prompt"] for r in by_question["2"]} == {"'=How was it?"}  # formula-safe
    assert [(r["option"], r["count"]) for r in by_question["2"]] == [
        ("0", "1"),
        ("1", "0"),
        ("2", "1"),
        ("3", "1"),
    ]
    assert {r["mean"] for r in by_question["2"]} == {"1.67"}
    assert [(r["option"], r["points"], r["average"]) for r in by_question["3"]] == [
        ("A", "1", "0.50"),
        ("B", "1", "0.50"),
        ("C", "4", "2.00"),
    ]
    assert {r["kind"] for r in by_question["1"]} == {"multiple"}
    assert {r["respondents"] for r in by_question["1"]} == {"2"}


async def test_a_word_cloud_is_restored_from_its_counters(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    created = await create_run(client, [RUN[4]])
    answers = [
        {"kind": "wordcloud", "words": ["Fast", "cloud"]},
        {"kind": "wordcloud", "words": ["fast"]},
    ]
    tally = await set_tally(db, created["id"], RUN[4], answers)
    body = (await _get(client, created, "questions/0/results")).json()
    assert (
        body["words"]
        == tally["words"]
        == [
            {"word": "Fast", "count": 2},
            {"word": "cloud", "count": 1},
        ]
    )
    assert (body["distinct"], body["total"]) == (2, 2)
    rows = list(csv.DictReader(io.StringIO((await _get(client, created, "results.csv")).text)))
    assert [(r["option"], r["count"], r["percent"]) for r in rows] == [
        ("Fast", "2", "100.0"),
        ("cloud", "1", "50.0"),
    ]
