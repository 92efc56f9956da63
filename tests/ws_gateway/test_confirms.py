"""Confirms: one confirmed VoteBatch per flush, each vote answered only after the confirm."""

from __future__ import annotations

import uuid
from typing import Any

import aio_pika
import redis.asyncio as aioredis

from contracts import Contract, PollView, VoteBatch
from contracts.answers import SingleAnswer
from contracts.base import HEADER_CONTRACT_VERSION, HEADER_CORRELATION_ID, HEADER_OCCURRED_AT
from contracts.topology import VOTES_QUEUE
from tests.support.isolation import Resources
from tests.ws_gateway.conftest import client, join, recv, request, seed_poll, send, take_messages
from ws_gateway.app import Gateway
from zephyr_runtime.amqp import PublishFailed
from zephyr_runtime.keys import RedisKeys


async def test_vote_lands_in_the_votes_queue_before_vote_accepted(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view, _ = await seed_poll(redis_client, keys, epoch=4)
    async with client(gateway, view.room_code) as ws:
        joined = await join(ws, "Ann")
        accepted = await request(ws, {"type": "vote", "option": 2, "client_vote_id": "c-1"})
        assert accepted["type"] == "vote_accepted"
        # The broker confirmed before the reply: the message is in the queue right now.
        found = await take_messages(resources, VOTES_QUEUE, lambda m: str(view.id) in str(m.body))

    assert len(found) == 1
    message = found[0]
    batch = VoteBatch.model_validate_json(message.body)
    assert message.type == VoteBatch.message_type()
    assert message.message_id == str(batch.batch_id)
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.headers[HEADER_CONTRACT_VERSION] == VoteBatch.VERSION
    assert message.headers[HEADER_OCCURRED_AT]
    assert message.headers[HEADER_CORRELATION_ID]
    assert batch.gateway_id == gateway.settings.instance_id
    (vote,) = batch.votes
    participant = uuid.UUID(joined["participant_id"])
    assert vote.participant_id == participant
    assert vote.qid == 0
    assert vote.answer == SingleAnswer(option=2)
    assert vote.option == 2
    assert vote.epoch == 4
    assert vote.client_vote_id == "c-1"
    assert vote.vote_id == uuid.uuid5(participant, "c-1")
    assert str(vote.vote_id) == accepted["vote_id"]
    assert accepted == {
        "type": "vote_accepted",
        "vote_id": str(vote.vote_id),
        "option": 2,
        "question": 0,
        "qid": 0,
        "answer": {"kind": "single", "option": 2},
        "client_vote_id": "c-1",
    }
    remembered = await redis_client.hget(keys.my_votes(view.id), f"{participant}:0")
    assert remembered == '4:{"kind":"single","option":2}'


class FailingPublisher:
    async def publish(self, message: Contract, **_: Any) -> None:
        raise PublishFailed("broker said no")


async def test_publish_failure_answers_unavailable_and_keeps_the_connection(
    gateway: Gateway, poll: PollView, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    confirms = gateway.context.batcher.confirms
    real = confirms.publisher
    async with client(gateway, poll.room_code) as ws:
        await join(ws, "Ann")
        confirms.publisher = FailingPublisher()  # type: ignore[assignment]
        try:
            await send(ws, {"type": "vote", "option": 0})
            await send(ws, {"type": "vote", "option": 1})
            errors = [await recv(ws), await recv(ws)]
        finally:
            confirms.publisher = real
        assert [e["code"] for e in errors] == ["unavailable", "unavailable"]
        assert all(e["retry_after"] == 1.0 for e in errors)
        # Not "refused": a publish that timed out may still be counted; the retry is safe.
        assert all("may not count" in e["message"] for e in errors)
        assert all("same client_vote_id" in e["message"] for e in errors)
        assert (await request(ws, {"type": "ping"}))["type"] == "pong"
    person = (await redis_client.hgetall(keys.my_votes(poll.id))) or {}
    assert person == {}  # nothing was confirmed, so nothing is remembered
