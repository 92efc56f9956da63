"""While Redis has no rebuild sentinel (it lost its data; vote-worker has not written the claims
and answers back yet): joins and resumes wait with `unavailable`, votes go on, and a quiz lock
is not taken. The rebuild itself is tests/vote_worker/test_rebuild.py; the whole story on a
private Redis is tests/fault/test_redis_loss.py."""

from __future__ import annotations

import uuid

import redis.asyncio as aioredis

from contracts.answers import QuizAnswer
from tests.support.isolation import Resources
from tests.ws_gateway.conftest import client, join, question, request, seed_poll, vote_reader
from tests.ws_gateway.test_answers import QUIZ
from ws_gateway.app import Gateway
from ws_gateway.confirms import my_votes_field
from zephyr_runtime.keys import RedisKeys


async def test_joins_and_resumes_wait_for_the_rebuild_and_votes_go_on(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view, _ = await seed_poll(redis_client, keys)
    async with vote_reader(resources, [view.id]) as reader:
        async with client(gateway, view.room_code) as ann:
            first = await join(ann, "Ann")
            assert first["type"] == "joined"
            await redis_client.delete(keys.alive(), keys.nicknames(view.id))  # the loss

            async with client(gateway, view.room_code) as other:
                refused = await join(other, "ANN")
                assert (refused["type"], refused["code"]) == ("error", "unavailable")
                assert refused["retry_after"] == 1.0
                resumed = await join(other, "Ann", resume_token=first["resume_token"])
                assert (resumed["type"], resumed["code"]) == ("error", "unavailable")
            # Nothing was claimed meanwhile: the rebuild's HSETNX gives "ann" back to Ann.
            assert await redis_client.hlen(keys.nicknames(view.id)) == 0

            # Voting keeps working for who is connected.
            accepted = await request(ann, {"type": "vote", "option": 2})
            assert accepted["type"] == "vote_accepted"
            (vote,) = await reader.wait_for_votes(1)
            assert str(vote.participant_id) == first["participant_id"]

        # The rebuild writes the claim back and sets the sentinel.
        await redis_client.hsetnx(keys.nicknames(view.id), "ann", first["participant_id"])
        await redis_client.set(keys.alive(), "rebuilt")
        async with client(gateway, view.room_code) as other:
            taken = await join(other, "ANN")
            assert (taken["type"], taken["code"]) == ("error", "nickname_taken")
        async with client(gateway, view.room_code) as again:
            back = await join(again, "x", resume_token=first["resume_token"])
        assert back["type"] == "joined"
        assert back["participant_id"] == first["participant_id"]
        assert back["my_answers"] == [
            {"question": 0, "qid": 0, "answer": {"kind": "single", "option": 2}}
        ]


async def test_a_quiz_lock_is_not_taken_before_the_rebuild(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view, _ = await seed_poll(redis_client, keys, questions=[question(0, QUIZ)])
    async with vote_reader(resources, [view.id]) as reader:
        async with client(gateway, view.room_code) as ann, client(gateway, view.room_code) as bob:
            ann_id = (await join(ann, "Ann"))["participant_id"]
            await join(bob, "Bob")
            first = await request(ann, {"type": "vote", "option": 1, "client_vote_id": "a-1"})
            assert first["type"] == "vote_accepted"
            await reader.wait_for_votes(1)
            await redis_client.delete(keys.alive(), keys.vote_seq(view.id))  # the loss

            # Ann's first answer is stored; without its lock a second "first" answer would be
            # accepted and never count. Bob has none: his must wait too (no lock can be taken).
            second = await request(ann, {"type": "vote", "option": 2})
            assert (second["type"], second["code"]) == ("error", "unavailable")
            assert second["retry_after"] == 1.0
            waiting = await request(bob, {"type": "vote", "option": 0})
            assert (waiting["type"], waiting["code"]) == ("error", "unavailable")

            # The rebuild has written Ann's lock but not finished: the lock already holds.
            lock = f"lock:{ann_id}:0"
            await redis_client.hsetnx(keys.vote_seq(view.id), lock, f"0:{first['vote_id']}")
            locked = await request(ann, {"type": "vote", "option": 2})
            assert (locked["type"], locked["code"]) == ("error", "answer_locked")
            resent = await request(ann, {"type": "vote", "option": 1, "client_vote_id": "a-1"})
            assert resent["vote_id"] == first["vote_id"]

            await redis_client.set(keys.alive(), "rebuilt")
            taken = await request(bob, {"type": "vote", "option": 0})
            assert taken["type"] == "vote_accepted"
        votes = await reader.wait_for_votes(3)
    assert sorted((str(v.vote_id), v.answer) for v in votes) == sorted(
        [
            (first["vote_id"], QuizAnswer(options=[1])),
            (first["vote_id"], QuizAnswer(options=[1])),
            (taken["vote_id"], QuizAnswer(options=[0])),
        ]
    )


async def test_a_resume_shows_the_answers_the_rebuild_wrote(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    view, _ = await seed_poll(redis_client, keys, epoch=3)
    async with client(gateway, view.room_code) as ws:
        first = await join(ws, "Cleo")
    participant = uuid.UUID(first["participant_id"])
    # vote-worker's format (vote_worker.rebuild): "<epoch>:<answer JSON>".
    await redis_client.delete(keys.my_votes(view.id))
    await redis_client.hsetnx(
        keys.my_votes(view.id),
        my_votes_field(participant, 0),
        '3:{"kind":"single","option":1}',
    )
    async with client(gateway, view.room_code) as ws:
        back = await join(ws, "Cleo", resume_token=first["resume_token"])
    assert back["my_vote"] == 1
    assert back["my_answers"] == [
        {"question": 0, "qid": 0, "answer": {"kind": "single", "option": 1}}
    ]
