"""Taking votes: the accept script (seq, poll state), the batcher's bounds and retries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis

from contracts import PollView
from contracts.polls import PollStatus
from tests.support.isolation import Resources
from tests.ws_gateway.conftest import (
    GatedPublisher,
    PollApiStub,
    changed,
    client,
    join,
    recv,
    request,
    seed_poll,
    send,
    vote_reader,
    write_state,
)
from ws_gateway.app import Gateway
from zephyr_runtime.keys import RedisKeys


async def test_seq_increases_per_participant_and_client_ids_are_idempotent(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view, _ = await seed_poll(redis_client, keys, options=4)
    async with vote_reader(resources, [view.id]) as reader:
        async with client(gateway, view.room_code) as a, client(gateway, view.room_code) as b:
            ann = uuid.UUID((await join(a, "Ann"))["participant_id"])
            await join(b, "Bob")
            # Burst without waiting: the batcher may put several in one batch.
            for option in (0, 1, 2, 3):
                await send(a, {"type": "vote", "option": option})
                await send(b, {"type": "vote", "option": 3 - option})
            replies_a = [await recv(a) for _ in range(4)]
            replies_b = [await recv(b) for _ in range(4)]
            assert {r["type"] for r in replies_a + replies_b} == {"vote_accepted"}
            first = await request(a, {"type": "vote", "option": 1, "client_vote_id": "x"})
            again = await request(a, {"type": "vote", "option": 1, "client_vote_id": "x"})
            assert first["vote_id"] == again["vote_id"]
        votes = await reader.wait_for_votes(10)

    assert len(votes) == 10
    assert sum(len(b.votes) for _, b in reader.batches) == 10
    by_person: dict[uuid.UUID, list[Any]] = {}
    for vote in votes:
        by_person.setdefault(vote.participant_id, []).append(vote)
    for person_votes in by_person.values():
        seqs = [v.seq for v in sorted(person_votes, key=lambda v: v.cast_at)]
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == len(seqs)
    ann_options = [v.option for v in sorted(by_person[ann], key=lambda v: v.seq)]
    assert ann_options == [0, 1, 2, 3, 1, 1]
    assert len({v.vote_id for v in votes}) == 9  # the resent client_vote_id shares its id


async def test_out_of_range_options_and_closed_polls_are_refused(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    view, _ = await seed_poll(redis_client, keys)
    draft, _ = await seed_poll(redis_client, keys, status=PollStatus.DRAFT)
    async with client(gateway, view.room_code) as ws:
        await join(ws, "Ann")
        out_of_range = await request(ws, {"type": "vote", "option": 3})
        assert out_of_range["code"] == "invalid_answer"
        assert "between 0 and 2" in out_of_range["message"]
    async with client(gateway, draft.room_code) as ws:
        await join(ws, "Ann")
        closed = await request(ws, {"type": "vote", "option": 0})
        assert closed["code"] == "poll_closed"
        assert (await request(ws, {"type": "ping"}))["type"] == "pong"


async def test_poll_closed_once_the_redis_state_says_closed(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view, version = await seed_poll(redis_client, keys)
    async with vote_reader(resources, [view.id]) as reader, client(gateway, view.room_code) as ws:
        await join(ws, "Ann")
        assert (await request(ws, {"type": "vote", "option": 0}))["type"] == "vote_accepted"
        # poll-api closes the poll: Redis says so before any PollStateChanged arrives.
        closed = changed(view, status=PollStatus.CLOSED)
        await write_state(redis_client, keys, closed, version + 1)
        refused = await request(ws, {"type": "vote", "option": 1})
        assert refused["type"] == "error"
        assert refused["code"] == "poll_closed"
        await reader.wait_for_votes(1)
    assert [v.option for v in reader.votes()] == [0]


async def test_missing_state_is_rebuilt_through_poll_api_and_the_vote_retried(
    start_gateway,
    poll_api: PollApiStub,
    redis_client: aioredis.Redis,
    keys: RedisKeys,
    resources: Resources,
) -> None:
    view, version = await seed_poll(redis_client, keys)
    poll_api.polls[view.room_code] = (view, version)
    lost, _ = await seed_poll(redis_client, keys)  # poll-api does not know this one
    async with (
        start_gateway(poll_api_url=poll_api.url) as gw,
        vote_reader(resources, [view.id]) as reader,
    ):
        async with client(gw, view.room_code) as ws, client(gw, lost.room_code) as other:
            await join(ws, "Ann")
            await join(other, "Bob")
            await redis_client.delete(keys.poll_state(view.id), keys.poll_state(lost.id))
            accepted = await request(ws, {"type": "vote", "option": 1})
            assert accepted["type"] == "vote_accepted"
            failed = await request(other, {"type": "vote", "option": 1})
            assert failed["code"] == "unavailable"
        await reader.wait_for_votes(1)
    assert f"/api/polls/{view.room_code}" in poll_api.requests
    assert await redis_client.hget(keys.poll_state(view.id), "status") == "open"


async def test_a_full_pending_queue_answers_overloaded(
    start_gateway, poll: PollView, resources: Resources
) -> None:
    async with (
        start_gateway(max_pending_votes=2, vote_batch_max=1) as gw,
        vote_reader(resources, [poll.id]) as reader,
    ):
        confirms = gw.context.batcher.confirms
        gated = GatedPublisher(confirms.publisher)
        confirms.publisher = gated
        async with client(gw, poll.room_code) as ws:
            await join(ws, "Ann")
            for option in range(10):
                await send(ws, {"type": "vote", "option": option % 3})
            # At most three are held (one in the gated publish, two queued): 7+ overflow.
            early = [await recv(ws) for _ in range(7)]
            assert {f["code"] for f in early} == {"overloaded"}
            assert all(f["retry_after"] > 0 for f in early)
            gated.gate.set()
            rest = [await recv(ws) for _ in range(3)]
            frames = early + rest
            accepted = [f for f in frames if f["type"] == "vote_accepted"]
            overloaded = [f for f in frames if f.get("code") == "overloaded"]
            assert len(accepted) + len(overloaded) == 10
            assert 2 <= len(accepted) <= 3
        await reader.wait_for_votes(len(accepted))


async def test_too_many_votes_in_flight_on_one_connection_are_rate_limited(
    start_gateway, poll: PollView, resources: Resources
) -> None:
    async with (
        start_gateway(max_votes_in_flight_per_connection=2) as gateway,
        vote_reader(resources, [poll.id]) as reader,
    ):
        confirms = gateway.context.batcher.confirms
        gated = GatedPublisher(confirms.publisher)
        confirms.publisher = gated
        async with client(gateway, poll.room_code) as ws, client(gateway, poll.room_code) as other:
            await join(ws, "Ann")
            await join(other, "Bob")
            for option in (0, 1, 2):
                await send(ws, {"type": "vote", "option": option})
            limited = await recv(ws)
            assert limited["code"] == "rate_limited"
            assert limited["retry_after"] > 0
            await send(other, {"type": "vote", "option": 0})  # others are not affected
            gated.gate.set()
            assert {(await recv(ws))["type"] for _ in range(2)} == {"vote_accepted"}
            assert (await recv(other))["type"] == "vote_accepted"
            # Answered votes no longer count against the limit.
            assert (await request(ws, {"type": "vote", "option": 2}))["type"] == "vote_accepted"
        await reader.wait_for_votes(4)


async def test_cast_at_is_the_redis_time_the_accept_script_decided_at(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    """A quiz's `t` runs from the opening to `cast_at`, and the timer closes by Redis TIME
    against `closes_us`: `cast_at` is that same TIME, returned by the accept script."""
    view, _ = await seed_poll(redis_client, keys)
    async with vote_reader(resources, [view.id]) as reader, client(gateway, view.room_code) as ws:
        await join(ws, "Ann")
        before_s, before_us = await redis_client.time()
        assert (await request(ws, {"type": "vote", "option": 1}))["type"] == "vote_accepted"
        after_s, after_us = await redis_client.time()
        (vote,) = await reader.wait_for_votes(1)
    cast_us = (vote.cast_at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    # A participant's first seq is the script's TIME itself (`max(last + 1, TIME)`).
    assert vote.seq == cast_us
    assert before_s * 1_000_000 + before_us <= cast_us <= after_s * 1_000_000 + after_us
