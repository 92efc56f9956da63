"""A run of questions of every kind, end to end: one host, 50 participants, every aggregate
equal to a recomputation from the stored answers (issue 12's acceptance)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
import pytest

from tests.support.eventually import eventually
from tests.support.host import bearer
from tests.support.isolation import Resources
from tests.support.participant import Participant
from tests.support.procs import Stack
from tests.support.truth import audit_kinds, read_questions, read_truth

pytestmark = pytest.mark.e2e

RUN: list[dict[str, Any]] = [
    {"kind": "single", "prompt": "Lunch?", "options": ["Pizza", "Soup", "Salad"]},
    {
        "kind": "multiple",
        "prompt": "Which languages?",
        "options": ["Python", "Rust", "Go", "Java"],
        "min_choices": 1,
        "max_choices": 2,
    },
    {"kind": "rating", "prompt": "How was it?", "min": 1, "max": 5, "max_label": "great"},
    {"kind": "ranking", "prompt": "Order these", "options": ["A", "B", "C", "D"], "rank_count": 3},
]

# Per kind: answers that break a rule of RUN's question, with a word of the rule's message.
INVALID: dict[str, list[tuple[dict[str, Any], str]]] = {
    "single": [({"option": 3}, "between 0 and 2"), ({"options": [0]}, "'option'")],
    "multiple": [
        ({"options": [0, 1, 2]}, "choose 1 to 2"),
        ({"options": [1, 1]}, "distinct"),
        ({"options": []}, "choose 1 to 2"),
        ({"option": 1}, "'options'"),
    ],
    "rating": [({"value": 0}, "between 1 and 5"), ({"value": 6}, "between 1 and 5")],
    "ranking": [
        ({"ranking": [0, 1]}, "rank exactly 3"),
        ({"ranking": [0, 0, 1]}, "rank exactly 3"),
        ({"ranking": [0, 1, 9]}, "between 0 and 3"),
    ],
}


def random_answer(kind: str, rng: random.Random) -> dict[str, Any]:
    if kind == "single":
        return {"option": rng.randrange(3)}
    if kind == "multiple":
        return {"options": rng.sample(range(4), rng.randint(1, 2))}
    if kind == "rating":
        return {"value": rng.randint(1, 5)}
    return {"ranking": rng.sample(range(4), 3)}


async def _host(http: httpx.AsyncClient, token: str, path: str) -> dict[str, Any]:
    resp = await http.post(path, headers=bearer(token))
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def test_a_run_of_every_kind_with_fifty_participants(
    stack: Stack, e2e_resources: Resources
) -> None:
    rng = random.Random(12)
    api = stack["poll_api"].url
    async with httpx.AsyncClient(base_url=api, timeout=15) as http:
        created = await http.post("/api/polls", json={"title": "Retro", "questions": RUN})
        assert created.status_code == 201, created.text
        poll = created.json()
        room, token, poll_id = poll["room_code"], poll["host_token"], poll["id"]
        ws_url = f"ws://127.0.0.1:{stack['ws_gateway'].port}/ws/{room}"
        people = [Participant(ws_url, f"p{i}") for i in range(50)]
        await asyncio.gather(*(p.connect() for p in people))
        joined = await asyncio.gather(*(p.join() for p in people))
        assert all(len(j["poll"]["questions"]) == len(RUN) for j in joined)
        assert all(j["current"] == 0 for j in joined)

        for index, spec in enumerate(RUN):
            await _host(http, token, f"/api/polls/{room}/questions/{index}/show")
            await _host(http, token, f"/api/polls/{room}/open")

            async def following(n: int = index) -> bool:
                return all(
                    any(s.get("current") == n and s["status"] == "open" for s in p.states)
                    for p in people
                )

            await eventually(following, timeout=15)

            async def answer(
                p: Participant, i: int, kind: str = spec["kind"], n: int = index
            ) -> None:
                first = await p.answer(random_answer(kind, rng), client_vote_id=f"{n}-{i}-a")
                assert first["type"] == "vote_accepted", first
                if i % 3 == 0:  # a third change their answer
                    again = await p.answer(random_answer(kind, rng))
                    assert again["type"] == "vote_accepted", again

            await asyncio.gather(*(answer(p, i) for i, p in enumerate(people)))
            acked = {str(f["vote_id"]) for p in people for f in p.accepted}

            async def all_stored(ids: set[str] = acked) -> bool:
                truth = await read_truth(e2e_resources.database_url, poll_id, 3)
                return ids <= truth.ballots

            await eventually(all_stored, timeout=30)
            before = len((await read_truth(e2e_resources.database_url, poll_id, 3)).ballots)
            for fields, rule in INVALID[spec["kind"]]:
                refused = await people[1].answer(fields)
                assert refused["type"] == "error", refused
                assert refused["code"] == "invalid_answer", refused
                assert rule in refused["message"], refused
            await _host(http, token, f"/api/polls/{room}/close")
            late = await people[2].answer(random_answer(spec["kind"], rng))
            assert (late["type"], late.get("code")) == ("error", "poll_closed"), late
            named = await people[2].answer(random_answer(spec["kind"], rng), question=index)
            assert (named["type"], named.get("code")) == ("error", "question_closed"), named
            # The invalid and the late answers stored nothing (give a stray one time to land).
            await asyncio.sleep(0.5)
            after = len((await read_truth(e2e_resources.database_url, poll_id, 3)).ballots)
            assert after == before

        # An earlier question opened again takes answers by its index, not being current.
        await _host(http, token, f"/api/polls/{room}/questions/1/open")
        extra = await people[3].answer({"options": [3]}, question=1)
        assert extra["type"] == "vote_accepted" and extra["qid"] == 1, extra
        unknown = await people[3].answer({"option": 0}, question=9)
        assert unknown.get("code") == "unknown_question", unknown

        latest: dict[tuple[str, int], dict[str, Any]] = {}
        for p in people:
            for frame in p.accepted:
                latest[(str(p.participant_id), frame["qid"])] = frame

        async def stored_all() -> bool:
            questions = await read_questions(e2e_resources.database_url, poll_id)
            return all(
                questions[qid].answers.get(pid) is not None
                and questions[qid].answers[pid].model_dump() == frame["answer"]
                for (pid, qid), frame in latest.items()
            ) and all(q.tally == q.recomputed() for q in questions.values())

        await eventually(stored_all, timeout=30)
        questions = await read_questions(e2e_resources.database_url, poll_id)
        truth = await read_truth(e2e_resources.database_url, poll_id, 3)
        # Invariant 1: every acknowledged answer is stored.
        assert {str(f["vote_id"]) for p in people for f in p.accepted} <= truth.ballots
        # Invariants 2 and 3: one answer per participant and question, aggregates exact.
        for qid, question in questions.items():
            expected = question.recomputed()
            assert question.tally == expected, (qid, question.tally, expected)
            # people[3]'s late answer to question 1 replaced their earlier one.
            assert expected["total"] == len(people), (qid, expected)
        rating = questions[2].recomputed()
        values = [a.value for a in questions[2].answers.values()]
        assert rating["sum"] == sum(values)
        assert rating["mean"] == f"{sum(values) / len(values):.2f}"

        # Every screen's last tally of each question is the truth.
        async def screens() -> bool:
            for p in people:
                for qid, question in questions.items():
                    frame = p.tallies.get(qid)
                    expected = question.recomputed()
                    if frame is None or any(
                        frame.get(k) != v for k, v in expected.items() if k != "kind"
                    ):
                        return False
            return True

        await eventually(screens, timeout=15)

        # Results over HTTP, for the host: every question, the same aggregate.
        results = await http.get(f"/api/polls/{room}/results", headers=bearer(token))
        assert results.status_code == 200, results.text
        by_qid = {q["qid"]: q for q in results.json()["questions"]}
        for qid, question in questions.items():
            expected = question.recomputed()
            assert by_qid[qid]["kind"] == RUN[qid]["kind"]
            assert by_qid[qid]["total"] == expected["total"]
        one = await http.get(f"/api/polls/{room}/questions/3/results", headers=bearer(token))
        assert one.status_code == 200, one.text
        assert one.json()["points"] == questions[3].recomputed()["points"]
        csv = await http.get(f"/api/polls/{room}/results.csv", headers=bearer(token))
        assert csv.status_code == 200
        assert all(spec["prompt"] in csv.text for spec in RUN)

    # Analysts can follow the session question by question.
    async def audited() -> bool:
        kinds = await audit_kinds(e2e_resources.database_url, poll_id)
        return kinds.get("question.opened", 0) >= 5 and kinds.get("question.shown", 0) >= 3

    await eventually(audited, timeout=30)
    await asyncio.gather(*(p.close() for p in people))


async def test_a_participant_who_comes_back_gets_the_current_question_and_own_answers(
    stack: Stack, e2e_resources: Resources
) -> None:
    api = stack["poll_api"].url
    async with httpx.AsyncClient(base_url=api, timeout=15) as http:
        created = await http.post("/api/polls", json={"questions": RUN})
        poll = created.json()
        room, token = poll["room_code"], poll["host_token"]
        for index in (0, 3):
            await _host(http, token, f"/api/polls/{room}/questions/{index}/open")
        await _host(http, token, f"/api/polls/{room}/questions/3/show")
    ws_url = f"ws://127.0.0.1:{stack['ws_gateway'].port}/ws/{room}"
    ann = Participant(ws_url, "Ann")
    await ann.connect()
    await ann.join()
    ranked = await ann.answer({"ranking": [2, 0, 1]})
    single = await ann.answer({"option": 1}, question=0)
    assert ranked["type"] == single["type"] == "vote_accepted"
    await ann.close()

    async def recorded() -> bool:
        questions = await read_questions(e2e_resources.database_url, poll["id"])
        return bool(questions[0].answers) and bool(questions[3].answers)

    await eventually(recorded, timeout=20)
    back = Participant(ws_url, "Ann again", resume_token=ann.resume_token)
    await back.connect()
    joined = await back.join()
    assert joined["current"] == 3
    mine = {a["qid"]: a["answer"] for a in joined["my_answers"]}
    assert mine == {
        3: {"kind": "ranking", "ranking": [2, 0, 1]},
        0: {"kind": "single", "option": 1},
    }
    await back.close()
