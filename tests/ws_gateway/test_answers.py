"""Answers of every kind: the question a vote names, the rules of its answer, and which
question is open, decided by the gateway's view first and by the accept script for good."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis

from contracts.answers import MultipleAnswer, RankingAnswer, RatingAnswer, SingleAnswer
from contracts.polls import PollStatus, PollView
from tests.support.isolation import Resources
from tests.ws_gateway.conftest import (
    changed,
    client,
    join,
    question,
    recv,
    request,
    room_code,
    seed_poll,
    send,
    vote_reader,
    write_state,
)
from ws_gateway.app import Gateway
from zephyr_runtime.keys import RedisKeys

SPECS: list[dict[str, Any]] = [
    {"kind": "single", "prompt": "Lunch?", "options": ["Pizza", "Soup", "Salad"]},
    {
        "kind": "multiple",
        "prompt": "Which languages?",
        "options": ["Python", "Rust", "Go", "Java"],
        "min_choices": 1,
        "max_choices": 2,
    },
    {"kind": "rating", "prompt": "How was it?", "min": 1, "max": 5},
    {"kind": "ranking", "prompt": "Order these", "options": ["A", "B", "C", "D"], "rank_count": 3},
]
# qids are not indexes: the run was edited (qid 1 and 4 deleted, 3 moved to the end).
QIDS = [0, 2, 5, 3]
EPOCHS = [1, 0, 4, 2]

# Per index: answers that break a rule of its question, with a word of the rule's message.
INVALID: list[tuple[int, dict[str, Any], str]] = [
    (0, {"option": 3}, "between 0 and 2"),
    (0, {"options": [0]}, "'option'"),
    (1, {"options": [0, 1, 2]}, "choose 1 to 2"),
    (1, {"options": [1, 1]}, "distinct"),
    (1, {"options": []}, "choose 1 to 2"),
    (1, {"option": 1}, "'options'"),
    (1, {"options": [0], "value": 2}, "'options'"),
    (2, {"value": 0}, "between 1 and 5"),
    (2, {"value": 6}, "between 1 and 5"),
    (3, {"ranking": [0, 1]}, "rank exactly 3"),
    (3, {"ranking": [0, 0, 1]}, "rank exactly 3"),
    (3, {"ranking": [0, 1, 9]}, "between 0 and 3"),
    (3, {}, "'ranking'"),
]


async def seed_run(
    redis: aioredis.Redis,
    keys: RedisKeys,
    *,
    statuses: list[PollStatus] | None = None,
    current: int = 0,
) -> PollView:
    statuses = statuses or [PollStatus.OPEN] * len(SPECS)
    questions = [
        question(qid, spec, index=index, status=status, epoch=epoch)
        for index, (qid, spec, status, epoch) in enumerate(
            zip(QIDS, SPECS, statuses, EPOCHS, strict=True)
        )
    ]
    view, _ = await seed_poll(redis, keys, questions=questions, current=current)
    return view


async def test_each_kind_is_accepted_and_published_as_a_vote_of_its_question(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view = await seed_run(redis_client, keys)
    answers: list[dict[str, Any]] = [
        {"option": 2},
        {"options": [3, 0]},
        {"value": 5},
        {"ranking": [3, 1, 0]},
    ]
    expected = [
        SingleAnswer(option=2),
        MultipleAnswer(options=[0, 3]),  # normalised: sorted
        RatingAnswer(value=5),
        RankingAnswer(ranking=[3, 1, 0]),  # best first: kept in order
    ]
    async with vote_reader(resources, [view.id]) as reader:
        async with client(gateway, view.room_code) as ws:
            joined = await join(ws, "Ann")
            assert joined["current"] == 0
            assert [q["qid"] for q in joined["poll"]["questions"]] == QIDS
            replies = [
                await request(ws, {"type": "vote", "question": index, **fields})
                for index, fields in enumerate(answers)
            ]
        votes = await reader.wait_for_votes(4)

    participant = uuid.UUID(joined["participant_id"])
    for index, (reply, answer) in enumerate(zip(replies, expected, strict=True)):
        assert reply["type"] == "vote_accepted", reply
        assert reply["question"] == index
        assert reply["qid"] == QIDS[index]
        assert reply["answer"] == answer.model_dump()
        assert reply["option"] == (2 if index == 0 else None)
    by_qid = {vote.qid: vote for vote in votes}
    assert sorted(by_qid) == sorted(QIDS)
    for index, answer in enumerate(expected):
        vote = by_qid[QIDS[index]]
        assert vote.answer == answer
        assert vote.epoch == EPOCHS[index]  # that question's epoch, from the script
        assert vote.participant_id == participant
        assert vote.option == (2 if index == 0 else None)
        assert str(vote.vote_id) == replies[index]["vote_id"]
    remembered = await redis_client.hgetall(keys.my_votes(view.id))
    assert remembered[f"{participant}:5"] == '4:{"kind":"rating","value":5}'


@pytest.mark.parametrize(("index", "fields", "rule"), INVALID)
async def test_a_broken_rule_is_invalid_answer_and_nothing_is_published(
    gateway: Gateway,
    redis_client: aioredis.Redis,
    keys: RedisKeys,
    resources: Resources,
    index: int,
    fields: dict[str, Any],
    rule: str,
) -> None:
    view = await seed_run(redis_client, keys)
    async with vote_reader(resources, [view.id]) as reader, client(gateway, view.room_code) as ws:
        participant = (await join(ws, "Ann"))["participant_id"]
        refused = await request(ws, {"type": "vote", "question": index, **fields})
        assert refused["type"] == "error"
        assert refused["code"] == "invalid_answer"
        assert rule in refused["message"]
        # No seq was handed out; the next valid answer is the only one published.
        assert await redis_client.hget(keys.vote_seq(view.id), participant) is None
        accepted = await request(ws, {"type": "vote", "option": 1, "client_vote_id": "ok"})
        assert accepted["type"] == "vote_accepted"
        votes = await reader.wait_for_votes(1)
    assert [(v.qid, v.client_vote_id) for v in votes] == [(0, "ok")]


async def test_a_vote_without_question_answers_the_current_one(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view = await seed_run(redis_client, keys, current=2)
    async with vote_reader(resources, [view.id]) as reader, client(gateway, view.room_code) as ws:
        joined = await join(ws, "Ann")
        assert joined["current"] == 2
        current = await request(ws, {"type": "vote", "value": 3})
        assert (current["question"], current["qid"]) == (2, 5)
        # The current question is a rating: an option is the wrong field for it.
        wrong = await request(ws, {"type": "vote", "option": 1})
        assert wrong["code"] == "invalid_answer"
        assert "'value'" in wrong["message"]
        named = await request(ws, {"type": "vote", "question": 0, "option": 1})
        assert (named["question"], named["qid"]) == (0, 0)
        unknown = await request(ws, {"type": "vote", "question": 9, "option": 0})
        assert unknown["code"] == "unknown_question"
        assert "9" in unknown["message"]
        votes = await reader.wait_for_votes(2)
    assert sorted((v.qid, v.answer.kind) for v in votes) == [(0, "single"), (5, "rating")]


async def test_a_closed_question_is_poll_closed_unless_it_was_named(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    statuses = [PollStatus.CLOSED, PollStatus.OPEN, PollStatus.DRAFT, PollStatus.OPEN]
    view = await seed_run(redis_client, keys, statuses=statuses)
    async with vote_reader(resources, [view.id]) as reader, client(gateway, view.room_code) as ws:
        await join(ws, "Ann")
        current = await request(ws, {"type": "vote", "option": 1})
        assert (current["code"], current["message"]) == (
            "poll_closed",
            "the poll is not open for votes",
        )
        named = await request(ws, {"type": "vote", "question": 0, "option": 1})
        assert named["code"] == "question_closed"
        draft = await request(ws, {"type": "vote", "question": 2, "value": 3})
        assert draft["code"] == "question_closed"
        assert "question 2" in draft["message"]
        # Another question is open and takes answers by its index, though not current.
        other = await request(ws, {"type": "vote", "question": 1, "options": [1]})
        assert other["type"] == "vote_accepted"
        votes = await reader.wait_for_votes(1)
    assert [v.qid for v in votes] == [2]


async def test_the_accept_script_decides_when_redis_says_closed_before_the_view_knows(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view = await seed_run(redis_client, keys)
    async with vote_reader(resources, [view.id]) as reader, client(gateway, view.room_code) as ws:
        await join(ws, "Ann")
        # poll-api closes question 0 and 1: Redis says so, no PollStateChanged has come.
        closed = changed(changed(view, 0, status=PollStatus.CLOSED), 2, status=PollStatus.CLOSED)
        await write_state(redis_client, keys, closed, 2)
        cached = gateway.context.rooms.get(view.id)
        assert cached is not None
        assert [q.status for q in cached.view.questions] == [PollStatus.OPEN] * 4
        current = await request(ws, {"type": "vote", "option": 1})
        assert current["code"] == "poll_closed"
        named = await request(ws, {"type": "vote", "question": 1, "options": [0]})
        assert named["code"] == "question_closed"
        still_open = await request(ws, {"type": "vote", "question": 2, "value": 2})
        assert still_open["type"] == "vote_accepted"
        votes = await reader.wait_for_votes(1)
    assert [v.qid for v in votes] == [5]


async def test_a_question_opened_in_redis_takes_answers_before_the_view_knows(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    statuses = [PollStatus.OPEN, PollStatus.CLOSED, PollStatus.OPEN, PollStatus.OPEN]
    view = await seed_run(redis_client, keys, statuses=statuses)
    async with vote_reader(resources, [view.id]) as reader, client(gateway, view.room_code) as ws:
        await join(ws, "Ann")
        assert (await request(ws, {"type": "vote", "question": 1, "options": [0]}))[
            "code"
        ] == "question_closed"
        # The host opens question 1 again; poll-api answered, the event is still on its way.
        await write_state(redis_client, keys, changed(view, 2, status=PollStatus.OPEN), 2)
        reopened = await request(ws, {"type": "vote", "question": 1, "options": [3]})
        assert reopened["type"] == "vote_accepted", reopened
        assert reopened["qid"] == 2
        votes = await reader.wait_for_votes(1)
    assert [(v.qid, v.answer) for v in votes] == [(2, MultipleAnswer(options=[3]))]


async def test_nothing_is_accepted_after_closes_us_whatever_the_status_says(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view = await seed_run(redis_client, keys)
    state = keys.poll_state(view.id)
    now_us = int(time.time() * 1_000_000)
    async with vote_reader(resources, [view.id]) as reader, client(gateway, view.room_code) as ws:
        await join(ws, "Ann")
        # Timed questions: poll-api's timer loop is down, the status still says open.
        await redis_client.hset(
            state,
            mapping={"q0:closes_us": str(now_us - 1000), "q2:closes_us": str(now_us + 60_000_000)},
        )
        late = await request(ws, {"type": "vote", "option": 1})
        assert late["code"] == "poll_closed"
        late_named = await request(ws, {"type": "vote", "question": 0, "option": 1})
        assert late_named["code"] == "question_closed"
        in_time = await request(ws, {"type": "vote", "question": 1, "options": [2]})
        assert in_time["type"] == "vote_accepted"
        untimed = await request(ws, {"type": "vote", "question": 2, "value": 1})
        assert untimed["type"] == "vote_accepted"
        votes = await reader.wait_for_votes(2)
    assert sorted(v.qid for v in votes) == [2, 5]


async def test_a_first_version_state_hash_is_read_as_its_one_question(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view = PollView(
        id=uuid.uuid4(),
        room_code=room_code(),
        question="Old?",
        options=["yes", "no"],
        status=PollStatus.OPEN,
        epoch=3,
    )
    await redis_client.delete(keys.poll_state(view.id))
    await redis_client.hset(
        keys.poll_state(view.id),
        mapping={
            "status": "open",
            "epoch": "3",
            "revealed": "0",
            "state_version": "1",
            "view": view.model_dump_json(),
        },
    )
    await redis_client.set(keys.room(view.room_code), str(view.id))
    async with vote_reader(resources, [view.id]) as reader, client(gateway, view.room_code) as ws:
        joined = await join(ws, "Ann")
        (only,) = joined["poll"]["questions"]
        assert (only["qid"], only["spec"]["options"], only["epoch"]) == (0, ["yes", "no"], 3)
        accepted = await request(ws, {"type": "vote", "option": 1})
        assert accepted["type"] == "vote_accepted"
        await redis_client.hset(keys.poll_state(view.id), "status", "closed")
        refused = await request(ws, {"type": "vote", "option": 0})
        assert refused["code"] == "poll_closed"
        (vote,) = await reader.wait_for_votes(1)
    assert (vote.qid, vote.epoch, vote.option) == (0, 3, 1)


async def test_a_question_added_in_redis_takes_answers_before_the_view_knows(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view = await seed_run(redis_client, keys)
    async with vote_reader(resources, [view.id]) as reader, client(gateway, view.room_code) as ws:
        await join(ws, "Ann")
        assert (await request(ws, {"type": "vote", "question": 4, "value": 1}))[
            "code"
        ] == "unknown_question"
        added = [*view.questions, question(6, {**SPECS[2], "prompt": "Again?"}, index=4)]
        await write_state(redis_client, keys, changed(view, questions=added), 2)
        accepted = await request(ws, {"type": "vote", "question": 4, "value": 1})
        assert (accepted["type"], accepted["qid"]) == ("vote_accepted", 6)
        (vote,) = await reader.wait_for_votes(1)
    assert (vote.qid, vote.answer) == (6, RatingAnswer(value=1))


QUIZ = {
    "kind": "quiz",
    "prompt": "2 + 2?",
    "options": ["3", "4", "5"],
    "time_limit_s": 30,
    "points": 1000,
    "multiple": False,
}


async def test_a_quiz_answer_locks_until_a_reset(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view, _ = await seed_poll(redis_client, keys, questions=[question(0, QUIZ)])
    async with vote_reader(resources, [view.id]) as reader:
        async with client(gateway, view.room_code) as ws, client(gateway, view.room_code) as b:
            await join(ws, "Ann")
            await join(b, "Bob")
            first = await request(ws, {"type": "vote", "option": 1, "client_vote_id": "q-1"})
            assert first["type"] == "vote_accepted"
            assert first["answer"] == {"kind": "quiz", "options": [1]}
            again = await request(ws, {"type": "vote", "option": 2})
            assert again["code"] == "answer_locked"
            assert "question 0" in again["message"]
            # The same answer resent (same client_vote_id) is the same vote: it passes.
            resent = await request(ws, {"type": "vote", "option": 1, "client_vote_id": "q-1"})
            assert resent["vote_id"] == first["vote_id"]
            # A burst: only the first is taken, and the replies keep the votes' order.
            await send(b, {"type": "vote", "option": 0})
            await send(b, {"type": "vote", "option": 1})
            burst = [await recv(b), await recv(b)]
            assert [f["type"] for f in burst] == ["vote_accepted", "error"]
            assert burst[1]["code"] == "answer_locked"
            # A reset (epoch 1) opens the question again: a new answer is taken.
            reset = changed(view, 0, epoch=1)
            await write_state(redis_client, keys, reset, 2)
            fresh = await request(ws, {"type": "vote", "option": 2})
            assert fresh["type"] == "vote_accepted"
        votes = await reader.wait_for_votes(4)
    assert sorted((v.epoch, v.answer.model_dump()["options"][0]) for v in votes) == [
        (0, 0),
        (0, 1),
        (0, 1),
        (1, 2),
    ]


async def test_the_view_refuses_a_question_past_its_closes_at_without_asking_redis(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    now = datetime.now(UTC)
    questions = [
        question(0, SPECS[0], closes_at=now - timedelta(seconds=1)),
        question(1, SPECS[2], index=1, closes_at=now + timedelta(seconds=60)),
    ]
    view, _ = await seed_poll(redis_client, keys, questions=questions)
    # Redis without the deadline: only the view knows it, so a refusal is the view's.
    await redis_client.hset(keys.poll_state(view.id), "q0:closes_us", "0")
    async with vote_reader(resources, [view.id]) as reader, client(gateway, view.room_code) as ws:
        await join(ws, "Ann")
        assert (await request(ws, {"type": "vote", "option": 0}))["code"] == "poll_closed"
        named = await request(ws, {"type": "vote", "question": 0, "option": 0})
        assert named["code"] == "question_closed"
        assert (await request(ws, {"type": "vote", "question": 1, "value": 3}))["qid"] == 1
        (vote,) = await reader.wait_for_votes(1)
    assert vote.qid == 1
