"""A five-question quiz with 100 participants answering at known times, end to end (issue 14).

Every score equals docs/quiz.md's rule recomputed from the stored answers (tests/support/quiz.py,
independent of contracts.scoring), every acceptance time lies between the send and the reply
the participant saw, the correct options appear in no frame a participant received before the
question closed, a second answer is locked, and the leaderboard is an ORDER BY over the stored
scores with the tie rule.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from tests.support.eventually import eventually
from tests.support.host import bearer
from tests.support.isolation import Resources
from tests.support.participant import Participant
from tests.support.procs import Stack
from tests.support.quiz import read_scores, recompute
from tests.support.truth import audit_kinds

pytestmark = pytest.mark.e2e

PEOPLE = 100


def _quiz(prompt: str, correct: list[int], limit: int, points: int = 1000) -> dict[str, Any]:
    return {
        "kind": "quiz",
        "prompt": prompt,
        "options": ["A", "B", "C", "D"],
        "correct": correct,
        "time_limit_s": limit,
        "points": points,
    }


QUIZ = [
    _quiz("One?", [1], 20),
    _quiz("Two of them?", [0, 2], 20, 2000),
    _quiz("Three?", [0], 10),
    _quiz("Four?", [3], 30),
    _quiz("Five, quickly?", [2], 5),  # closed by its timer
]


def plan(i: int, index: int) -> tuple[float, list[int]] | None:
    """When participant i answers question `index` (seconds after it opens) and what."""
    if (i + index) % 17 == 0:
        return None  # no answer: 0 points, the streak resets
    correct = QUIZ[index]["correct"]
    wrong = [o for o in range(4) if o not in correct][: len(correct)]
    chosen = correct if (i * 7 + index) % 5 else wrong
    if index == 1 and i % 11 == 0:
        chosen = correct[:1]  # a subset of the correct options scores nothing
    return (i % 10) * 0.12, chosen


def _fields(chosen: list[int]) -> dict[str, Any]:
    return {"options": chosen} if len(chosen) > 1 else {"option": chosen[0]}


def mentions_correct(frame: Any, qid: int) -> bool:
    """A frame that carries correct options (a list) of question `qid`, or of no named question
    (a spec): a quiz_result's bool, and an earlier question's leaderboard, are fine."""
    if isinstance(frame, dict):
        for key, value in frame.items():
            named = key in {"correct", "correct_options"} and isinstance(value, list)
            if named and frame.get("qid", qid) == qid:
                return True
            if mentions_correct(value, qid):
                return True
    elif isinstance(frame, list):
        return any(mentions_correct(v, qid) for v in frame)
    return False


async def _host(http: httpx.AsyncClient, token: str, path: str) -> None:
    resp = await http.post(path, headers=bearer(token))
    assert resp.status_code == 200, resp.text


async def _cast_times(database_url: str, poll_id: str) -> dict[tuple[str, int], float]:
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        rows = await conn.fetch(
            "SELECT participant_id, qid, extract(epoch FROM cast_at)::float8 AS at"
            " FROM votes WHERE poll_id = $1",
            UUID(poll_id),
        )
    finally:
        await conn.close()
    return {(str(r["participant_id"]), r["qid"]): r["at"] for r in rows}


async def test_a_five_question_quiz_scores_exactly(stack: Stack, e2e_resources: Resources) -> None:
    db = e2e_resources.database_url
    api = stack["poll_api"].url
    async with httpx.AsyncClient(base_url=api, timeout=20) as http:
        created = await http.post("/api/polls", json={"title": "Quiz", "questions": QUIZ})
        assert created.status_code == 201, created.text
        poll = created.json()
        room, token, poll_id = poll["room_code"], poll["host_token"], poll["id"]
        ws_url = f"ws://127.0.0.1:{stack['ws_gateway'].port}/ws/{room}"
        people = [Participant(ws_url, f"q{i:03d}") for i in range(PEOPLE)]
        await asyncio.gather(*(p.connect() for p in people))
        await asyncio.gather(*(p.join() for p in people))
        windows: dict[tuple[int, int], tuple[float, float]] = {}  # (i, qid) -> send, reply

        for index, spec in enumerate(QUIZ):
            await _host(http, token, f"/api/polls/{room}/questions/{index}/show")
            await _host(http, token, f"/api/polls/{room}/open")

            async def following(n: int = index) -> bool:
                return all(
                    any(s.get("question") == n and s["status"] == "open" for s in p.states)
                    for p in people
                )

            await eventually(following, timeout=15)

            async def answer(i: int, p: Participant, n: int = index) -> None:
                planned = plan(i, n)
                if planned is None:
                    return
                delay, chosen = planned
                await asyncio.sleep(delay)
                sent = time.time()
                reply = await p.answer(_fields(chosen), client_vote_id=f"{n}-{i}")
                windows[(i, n)] = (sent, time.time())
                assert reply["type"] == "vote_accepted", reply
                if i % 5 == 0:  # the first answer locks
                    again = await p.answer(_fields([o for o in range(4) if o not in chosen][:1]))
                    assert (again["type"], again.get("code")) == ("error", "answer_locked"), again

            await asyncio.gather(*(answer(i, p) for i, p in enumerate(people)))
            before_close = [len(p.frames) for p in people]
            if index < len(QUIZ) - 1:
                await _host(http, token, f"/api/polls/{room}/close")
            # else: question 4 closes by its timer (5 s after it opened)

            async def scored(n: int = index) -> bool:
                return all(n in p.quiz_results for p in people) and all(
                    any(b["qid"] == n for b in p.leaderboards) for p in people
                )

            await eventually(scored, timeout=30)
            # Invariant 6: nothing a participant got while the question was open told its
            # correct options; the leaderboard after the close does.
            for p, upto in zip(people, before_close, strict=True):
                early = p.frames[:upto]
                assert not any(mentions_correct(f, index) for f in early), p.nickname
                assert not any(
                    f.get("type") == "tally" and f.get("qid") == index and f.get("counts")
                    for f in early
                ), "the counts of an open quiz question were sent"
            board = next(b for b in people[0].leaderboards if b["qid"] == index)
            assert board["correct_options"] == spec["correct"]

        # Every acceptance time lies between the participant's send and the reply.
        cast = await _cast_times(db, poll_id)
        for (i, qid), (sent, replied) in windows.items():
            at = cast[(str(people[i].participant_id), qid)]
            assert sent - 0.05 <= at <= replied + 0.05, (i, qid, sent, at, replied)

        # Scores equal the recomputation; ranks equal SQL's RANK() with the tie rule.
        async def exact() -> bool:
            stored = await read_scores(db, poll_id)
            expected = await recompute(db, poll_id)
            return len(stored) == PEOPLE and all(
                stored[pid]["score"] == e.score
                and stored[pid]["correct_time_us"] == e.correct_time_us
                for pid, e in expected.items()
            )

        await eventually(exact, timeout=20)
        stored = await read_scores(db, poll_id)
        assert all(s["rank"] == s["sql_rank"] for s in stored.values())
        scores = sorted({s["score"] for s in stored.values()})
        assert len(scores) > 10, "the plan should spread the scores"

        # Each participant's last quiz_result is their stored score and rank.
        async def screens() -> bool:
            for p in people:
                mine = p.last_quiz_result
                truth = stored[str(p.participant_id)]
                if mine is None or (mine["score"], mine["rank"]) != (truth["score"], truth["rank"]):
                    return False
            return True

        await eventually(screens, timeout=15)

        # The leaderboard over HTTP is the ORDER BY over the stored scores.
        resp = await http.get(f"/api/polls/{room}/leaderboard", params={"top": PEOPLE})
        assert resp.status_code == 200, resp.text
        top = resp.json()["top"]
        ordered = sorted(stored.values(), key=lambda s: (-s["score"], s["correct_time_us"]))
        assert [(r["rank"], r["score"]) for r in top] == [(s["rank"], s["score"]) for s in ordered]
        last_board = max(people[1].leaderboards, key=lambda b: b["version"])
        assert [(r["rank"], r["score"]) for r in last_board["top"]] == [
            (r["rank"], r["score"]) for r in top[:10]
        ]

        # The host's export: one row per participant, the total and rank of each.
        export = await http.get(f"/api/polls/{room}/leaderboard.csv", headers=bearer(token))
        assert export.status_code == 200, export.text
        rows = list(csv.reader(io.StringIO(export.text)))
        assert len(rows) == PEOPLE + 1
        assert (await http.get(f"/api/polls/{room}/leaderboard.csv")).status_code == 401

        # A participant who comes back sees their score and rank at once.
        back = Participant(ws_url, people[7].nickname, resume_token=people[7].resume_token)
        await back.connect()
        joined = await back.join()
        mine = stored[str(people[7].participant_id)]
        assert joined["quiz_result"]["score"] == mine["score"], joined
        assert joined["quiz_result"]["rank"] == mine["rank"], joined
        assert joined["leaderboard"]["top"], joined
        await back.close()
        await asyncio.gather(*(p.close() for p in people))

    async def audited() -> bool:
        return (await audit_kinds(db, poll_id)).get("quiz.scored", 0) >= len(QUIZ)

    await eventually(audited, timeout=20)
