"""POST /api/polls in both forms: the shorthand (one single question, qid 0) and a run."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from contracts.polls import PollView
from tests.poll_api.utils import create_poll, create_run

RUN: list[dict[str, Any]] = [
    {"kind": "single", "prompt": "Lunch?", "options": ["Pizza", "Soup"]},
    {"kind": "multiple", "prompt": "Languages?", "options": ["Py", "Rs", "Go"], "max_choices": 2},
    {"kind": "rating", "prompt": "How was it?", "max": 10, "max_label": "great"},
    {"kind": "ranking", "prompt": "Order", "options": ["A", "B", "C"], "rank_count": 2},
    {"kind": "wordcloud", "prompt": "One word", "banned_words": ["meh"]},
    {
        "kind": "quiz",
        "prompt": "2 + 2?",
        "options": ["3", "4", "5"],
        "correct": [1],
        "time_limit_s": 20,
    },
]


async def test_the_shorthand_is_a_run_of_one_single_question(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    created = await create_poll(client, question="Tabs?", options=["Tabs", "Spaces"])
    assert created["poll"]["current"] == 0
    assert created["poll"]["title"] is None
    (question,) = created["poll"]["questions"]
    assert question["qid"] == 0 and question["index"] == 0
    assert question["spec"] == {
        "kind": "single",
        "prompt": "Tabs?",
        "options": ["Tabs", "Spaces"],
        "time_limit_s": None,
    }
    assert question["status"] == "draft" and question["ever_opened"] is False
    (host,) = created["questions"]
    assert host["spec"]["options"] == ["Tabs", "Spaces"] and host["current"] is True
    row = await db.fetchrow("SELECT * FROM questions WHERE poll_id = $1", uuid.UUID(created["id"]))
    assert row is not None
    assert (row["qid"], row["position"], row["kind"], row["status"]) == (0, 0, "single", "draft")
    assert json.loads(row["spec"])["prompt"] == "Tabs?"
    poll = await db.fetchrow(
        "SELECT question, options, current_qid, next_qid FROM polls WHERE id = $1",
        uuid.UUID(created["id"]),
    )
    assert poll is not None
    assert (poll["question"], json.loads(poll["options"])) == ("Tabs?", ["Tabs", "Spaces"])
    assert (poll["current_qid"], poll["next_qid"]) == (0, 1)


async def test_a_run_of_every_kind(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    created = await create_run(
        client, RUN, title="Retro", settings={"hide_results_until_reveal": True}
    )
    poll = created["poll"]
    assert poll["title"] == "Retro"
    assert poll["hide_results_until_reveal"] is True
    assert [q["qid"] for q in poll["questions"]] == list(range(len(RUN)))
    assert [q["index"] for q in poll["questions"]] == list(range(len(RUN)))
    assert [q["spec"]["kind"] for q in poll["questions"]] == [q["kind"] for q in RUN]
    # The top level mirrors the current question, as the first version had it.
    assert (poll["question"], poll["options"], poll["kind"]) == (
        "Lunch?",
        ["Pizza", "Soup"],
        "single",
    )
    PollView.model_validate({k: poll[k] for k in PollView.model_fields})
    # The public view never carries a quiz's answer nor a word cloud's banned words.
    quiz, cloud = poll["questions"][5]["spec"], poll["questions"][4]["spec"]
    assert "correct" not in quiz and quiz["multiple"] is False
    assert "banned_words" not in cloud
    # The host gets the full specs, once here and from GET /questions.
    host = {q["qid"]: q for q in created["questions"]}
    assert host[5]["spec"]["correct"] == [1]
    assert host[4]["spec"]["banned_words"] == ["meh"]
    rows = await db.fetch(
        "SELECT qid, position, kind FROM questions WHERE poll_id = $1 ORDER BY qid",
        uuid.UUID(created["id"]),
    )
    assert [(r["qid"], r["position"], r["kind"]) for r in rows] == [
        (i, i, q["kind"]) for i, q in enumerate(RUN)
    ]
    assert await db.fetchval(
        "SELECT next_qid FROM polls WHERE id = $1", uuid.UUID(created["id"])
    ) == len(RUN)


async def test_a_run_starting_with_a_rating_has_no_top_level_options(
    client: httpx.AsyncClient,
) -> None:
    created = await create_run(client, [RUN[2]])
    poll = created["poll"]
    assert (poll["question"], poll["options"], poll["kind"]) == ("How was it?", [], "rating")


def _spec(**fields: Any) -> dict[str, Any]:
    return {"kind": "single", "prompt": "q", "options": ["a", "b"], **fields}


@pytest.mark.parametrize(
    ("body", "where", "words"),
    [
        ({"questions": []}, ["body", "questions"], "at least 1"),
        ({"questions": [_spec()] * 51}, ["body", "questions"], "at most 50"),
        ({"questions": [_spec(), _spec(options=["a"])]}, ["body", "questions", 1], "at least 2"),
        (
            {"questions": [_spec(), {"kind": "rating", "prompt": "r", "max": 11}]},
            ["body", "questions", 1, "rating", "max"],
            "less than or equal to 10",
        ),
        (
            {
                "questions": [
                    {"kind": "multiple", "prompt": "m", "options": ["a", "b"], "max_choices": 3}
                ]
            },
            ["body", "questions", 0],
            "max_choices",
        ),
        (
            {"questions": [{"kind": "quiz", "prompt": "z", "options": ["a", "b"], "correct": [0]}]},
            ["body", "questions", 0, "quiz", "time_limit_s"],
            "required",
        ),
        ({"questions": [_spec(time_limit_s=4)]}, ["body", "questions", 0], "greater than"),
        ({"questions": [{"kind": "poem", "prompt": "p"}]}, ["body", "questions", 0], "poem"),
        ({"questions": [_spec(option="x")]}, ["body", "questions", 0, "single", "option"], "Extra"),
        ({"questions": [_spec(prompt="<b>hi</b>")]}, ["body", "questions", 0], ""),
        ({"questions": [_spec()], "question": "q"}, ["body", "question"], "either"),
        ({"questions": [_spec()], "title": "x" * 201}, ["body", "title"], "at most 200"),
        ({"question": "q", "options": ["a", "b"], "title": "T"}, ["body", "title"], "questions"),
        ({"question": "q"}, ["body", "options"], "required"),
        ({}, ["body", "question"], "required"),
    ],
)
async def test_an_invalid_run_is_a_422_naming_the_question_and_the_rule(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    body: dict[str, Any],
    where: list[Any],
    words: str,
) -> None:
    before = await db.fetchval("SELECT count(*) FROM questions")
    resp = await client.post("/api/polls", json=body)
    assert resp.status_code == 422, resp.text
    problems = resp.json()["detail"]
    found = [p for p in problems if p["loc"][: len(where)] == where]
    assert found, problems
    assert any(words.lower() in p["msg"].lower() for p in found), found
    assert await db.fetchval("SELECT count(*) FROM questions") == before
