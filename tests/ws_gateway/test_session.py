"""Joining and the frames of a session: identity, resume tokens, nicknames, bad frames."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aioredis
from aio_pika.abc import AbstractIncomingMessage

from contracts import AuditBatch, ParticipantJoined, PollView
from contracts.topology import AUDIT_QUEUE, PARTICIPANTS_QUEUE
from tests.support.isolation import Resources
from tests.ws_gateway.conftest import (
    client,
    join,
    recv,
    request,
    seed_poll,
    take_messages,
    vote_reader,
    write_tally,
)
from ws_gateway.app import Gateway
from ws_gateway.tokens import issue_token
from zephyr_runtime.keys import RedisKeys
from zephyr_runtime.settings import DEV_SECRET


async def test_join_returns_identity_token_and_poll(
    gateway: Gateway, poll: PollView, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    async with client(gateway, poll.room_code.lower()) as ws:  # room codes are case-blind
        joined = await join(ws, "  Ann  ")
    assert joined["type"] == "joined"
    assert joined["nickname"] == "Ann"
    assert PollView.model_validate(joined["poll"]) == poll
    assert joined["tally"] is None
    assert joined["my_vote"] is None
    assert joined["my_answers"] == []
    assert joined["current"] == 0
    assert joined["server_time"]
    participant_id = uuid.UUID(joined["participant_id"])
    assert joined["resume_token"]
    claimed = await redis_client.hget(keys.nicknames(poll.id), "ann")
    assert claimed == str(participant_id)


async def test_resume_restores_identity_tally_and_my_vote(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view, _ = await seed_poll(redis_client, keys, epoch=2)
    async with vote_reader(resources, [view.id]) as reader:
        async with client(gateway, view.room_code) as ws:
            first = await join(ws, "Ann")
            accepted = await request(ws, {"type": "vote", "option": 1})
            assert accepted["type"] == "vote_accepted"
        await reader.wait_for_votes(1)
    await write_tally(redis_client, keys, view.id, [0, 1, 0], epoch=2, version=7)
    # Even after Redis forgot the nickname, the signed token re-claims it.
    await redis_client.delete(keys.nicknames(view.id))

    async with client(gateway, view.room_code) as ws:
        again = await join(ws, "someone else entirely", resume_token=first["resume_token"])
    assert again["type"] == "joined"
    assert again["participant_id"] == first["participant_id"]
    assert again["nickname"] == "Ann"
    assert again["tally"] == {
        "question": 0,
        "qid": 0,
        "kind": "single",
        "counts": [0, 1, 0],
        "total": 1,
        "version": 7,
    }
    assert again["my_vote"] == 1
    assert again["current"] == 0
    assert again["my_answers"] == [
        {"question": 0, "qid": 0, "answer": {"kind": "single", "option": 1}}
    ]
    assert await redis_client.hget(keys.nicknames(view.id), "ann") == first["participant_id"]


async def test_tally_and_my_vote_of_an_older_epoch_are_not_shown(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    view, _ = await seed_poll(redis_client, keys, epoch=3)
    person = uuid.uuid4()
    await write_tally(redis_client, keys, view.id, [4, 0, 0], epoch=2, version=9)
    await redis_client.hset(keys.my_votes(view.id), f"{person}:0", '2:{"kind":"single","option":0}')
    token = issue_token(DEV_SECRET, view.id, person, "Bea")
    async with client(gateway, view.room_code) as ws:
        joined = await join(ws, "Bea", resume_token=token)
    assert joined["participant_id"] == str(person)
    assert joined["tally"] is None
    assert joined["my_vote"] is None
    assert joined["my_answers"] == []


async def test_hidden_results_are_not_in_joined(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    view, _ = await seed_poll(redis_client, keys, hide_results_until_reveal=True)
    await write_tally(redis_client, keys, view.id, [1, 2, 3], epoch=0, version=3)
    async with client(gateway, view.room_code) as ws:
        joined = await join(ws, "Cy")
    assert joined["tally"] is None


async def test_nicknames_are_unique_case_insensitively(gateway: Gateway, poll: PollView) -> None:
    async with client(gateway, poll.room_code) as first, client(gateway, poll.room_code) as second:
        assert (await join(first, "Ann"))["type"] == "joined"
        taken = await join(second, "ANN")
        assert taken["type"] == "error"
        assert taken["code"] == "nickname_taken"
        # The connection stays usable: another nickname works.
        assert (await join(second, "Annie"))["type"] == "joined"


async def test_token_for_another_poll_or_forged_is_refused(
    gateway: Gateway, poll: PollView, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    other, _ = await seed_poll(redis_client, keys)
    async with client(gateway, poll.room_code) as ws:
        token = (await join(ws, "Dee"))["resume_token"]
    async with client(gateway, other.room_code) as ws:
        refused = await join(ws, "Dee", resume_token=token)
        assert refused["type"] == "error"
        assert refused["code"] == "invalid_token"
        forged = await join(ws, "Dee", resume_token=token[:-4] + "AAAA")
        assert forged["code"] == "invalid_token"
        # Not joined, but still connected: a fresh join works.
        assert (await join(ws, "Dee"))["type"] == "joined"


async def test_second_join_and_vote_before_join_are_refused(
    gateway: Gateway, poll: PollView
) -> None:
    async with client(gateway, poll.room_code) as ws:
        early = await request(ws, {"type": "vote", "option": 0})
        assert early["type"] == "error"
        assert early["code"] == "not_joined"
        assert (await join(ws, "Eve"))["type"] == "joined"
        twice = await join(ws, "Eve2")
        assert twice["code"] == "already_joined"
        assert (await request(ws, {"type": "ping"})) == {"type": "pong"}


@pytest.mark.parametrize(
    ("frame", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ('{"type": "ping", "extra": 1}', "unexpected field 'extra'"),
        ('{"type": "vote", "option": "1"}', "option"),
        ('{"type": "vote", "option": true}', "option"),
        ('{"type": "dance"}', "unknown frame type"),
        ('{"option": 1}', "'type'"),
        ("[1, 2]", "JSON object"),
        ('{"type": "join", "nickname": "\\u200b"}', "nickname"),
        ('{"type": "vote", "option": 1, "client_vote_id": "bad id!"}', "client_vote_id"),
    ],
)
async def test_invalid_frames_get_a_short_error_and_the_connection_stays(
    gateway: Gateway, poll: PollView, frame: str, fragment: str
) -> None:
    async with client(gateway, poll.room_code) as ws:
        await ws.send(frame)
        error = await recv(ws)
        assert error["type"] == "error"
        assert error["code"] == "invalid_frame"
        assert fragment in error["message"]
        assert len(error["message"]) <= 200
        assert "Traceback" not in error["message"]
        assert "pydantic" not in error["message"]
        assert (await request(ws, {"type": "ping"})) == {"type": "pong"}


async def test_binary_frames_are_invalid(gateway: Gateway, poll: PollView) -> None:
    async with client(gateway, poll.room_code) as ws:
        await ws.send(b'{"type": "ping"}')
        error = await recv(ws)
        assert error["code"] == "invalid_frame"
        assert (await request(ws, {"type": "ping"}))["type"] == "pong"


async def test_joins_publish_participant_and_audit_messages(
    gateway: Gateway, poll: PollView, resources: Resources
) -> None:
    async with client(gateway, poll.room_code) as ws:
        first = await join(ws, "Gus")
    async with client(gateway, poll.room_code) as ws:
        await join(ws, "x", resume_token=first["resume_token"])

    def ours(message: AbstractIncomingMessage) -> bool:
        return str(poll.id) in message.body.decode()

    # Both were confirmed before `joined` was sent, so they are in their queues now.
    joined = await take_messages(resources, PARTICIPANTS_QUEUE, ours)
    assert [m.type for m in joined] == [ParticipantJoined.message_type()] * 2
    events = [ParticipantJoined.model_validate_json(m.body) for m in joined]
    assert [(e.nickname, e.resumed) for e in events] == [("Gus", False), ("Gus", True)]
    assert {str(e.participant_id) for e in events} == {first["participant_id"]}

    audited = await take_messages(resources, AUDIT_QUEUE, ours)
    batches = [AuditBatch.model_validate_json(m.body) for m in audited]
    kinds = [(e.kind, e.service, e.data["resumed"]) for b in batches for e in b.events]
    assert kinds == [
        ("participant.joined", "ws-gateway", False),
        ("participant.joined", "ws-gateway", True),
    ]
    assert all(e.client_ip == "127.0.0.1" for b in batches for e in b.events)


async def test_an_answer_remembered_by_a_first_version_gateway_is_shown(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    view, _ = await seed_poll(redis_client, keys, epoch=1)
    person = uuid.uuid4()
    # A gateway of the previous release wrote "<participant>" -> "<epoch>:<option>".
    await redis_client.hset(keys.my_votes(view.id), str(person), "1:2")
    token = issue_token(DEV_SECRET, view.id, person, "Old")
    async with client(gateway, view.room_code) as ws:
        joined = await join(ws, "Old", resume_token=token)
    assert joined["my_vote"] == 2
    assert joined["my_answers"] == [
        {"question": 0, "qid": 0, "answer": {"kind": "single", "option": 2}}
    ]
