"""Fan-out to the screens: coalesced tallies, poll state changes, resets and reveals."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import redis.asyncio as aioredis

from contracts import PollStateChanged, TallyUpdated
from contracts.polls import PollStatus
from contracts.topology import state_routing_key, tally_routing_key
from tests.support.eventually import eventually
from tests.support.isolation import Resources
from tests.ws_gateway.conftest import (
    changed,
    client,
    join,
    live_publisher,
    recv,
    recv_until,
    request,
    seed_poll,
    single_tally,
    state_of,
)
from ws_gateway.app import Gateway
from zephyr_runtime.keys import RedisKeys


async def test_tallies_are_coalesced_latest_version_to_every_participant(
    start_gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view, _ = await seed_poll(redis_client, keys, epoch=1)
    async with (
        start_gateway(tally_interval_ms=200) as gw,
        client(gw, view.room_code) as a,
        client(gw, view.room_code) as b,
        live_publisher(resources) as publish,
    ):
        await join(a, "Ann")
        await join(b, "Bob")

        def tally(version: int, epoch: int = 1) -> TallyUpdated:
            counts = [version, 0, 1]
            return TallyUpdated(
                poll_id=view.id, epoch=epoch, counts=counts, total=sum(counts), version=version
            )

        messages = [tally(v) for v in range(1, 31)]
        messages += [tally(10), tally(99, epoch=0)]  # an older version, a pre-reset epoch
        await asyncio.gather(*(publish(m, tally_routing_key(view.id)) for m in messages))
        await publish(tally(31), tally_routing_key(view.id))
        messages.append(tally(31))

        for ws in (a, b):
            frames = []
            while not frames or frames[-1]["version"] != 31:
                frame = await recv(ws)
                assert frame["type"] == "tally"
                frames.append(frame)
            versions = [f["version"] for f in frames]
            assert versions == sorted(set(versions))  # never older, never repeated
            assert 99 not in versions
            assert len(frames) < len(messages)  # coalesced, not one frame per message
            assert frames[-1] == single_tally([31, 0, 1], 31)
            assert (await request(ws, {"type": "ping"}))["type"] == "pong"


async def test_poll_state_changes_reach_screens_at_once(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view, version = await seed_poll(redis_client, keys)
    async with (
        client(gateway, view.room_code) as a,
        client(gateway, view.room_code) as b,
        live_publisher(resources) as publish,
    ):
        await join(a, "Ann")
        await join(b, "Bob")
        closed = changed(view, status=PollStatus.CLOSED)
        await publish(
            PollStateChanged(poll=closed, state_version=version + 1), state_routing_key(view.id)
        )
        for ws in (a, b):
            state, skipped = await recv_until(ws, "poll_state")
            assert skipped == []
            assert state_of(state) == ("closed", False, 0, 0, 0, 0)
            assert state["spec"] == {**view.questions[0].spec.model_dump(), "kind": "single"}
            assert state["closes_at"] is None
            assert abs(datetime.fromisoformat(state["server_time"]).timestamp() - time.time()) < 60
        # The local view knows: refused at once, without a round trip.
        assert (await request(a, {"type": "vote", "option": 0}))["code"] == "poll_closed"

        # A stale (older state_version) message changes nothing.
        await publish(
            PollStateChanged(poll=view, state_version=version), state_routing_key(view.id)
        )
        assert (await request(a, {"type": "ping"}))["type"] == "pong"
        assert gateway.context.rooms.get(view.id).view.status is PollStatus.CLOSED


async def test_a_reset_sends_state_then_a_zero_tally(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view, version = await seed_poll(redis_client, keys, epoch=2, options=4)
    async with client(gateway, view.room_code) as ws, live_publisher(resources) as publish:
        await join(ws, "Ann")
        await publish(
            TallyUpdated(poll_id=view.id, epoch=2, counts=[1, 2, 0, 0], total=3, version=5),
            tally_routing_key(view.id),
        )
        assert (await recv_until(ws, "tally"))[0]["version"] == 5
        reset = changed(view, status=PollStatus.DRAFT, epoch=3)
        await publish(
            PollStateChanged(poll=reset, state_version=version + 1), state_routing_key(view.id)
        )
        state = await recv(ws)
        assert state_of(state) == ("draft", False, 3, 0, 0, 0)
        zero = await recv(ws)
        assert zero == single_tally([0, 0, 0, 0], 0)
        # A late tally of the old epoch is ignored; the new epoch's tallies flow.
        await publish(
            TallyUpdated(poll_id=view.id, epoch=2, counts=[9, 0, 0, 0], total=9, version=6),
            tally_routing_key(view.id),
        )
        await publish(
            TallyUpdated(poll_id=view.id, epoch=3, counts=[0, 1, 0, 0], total=1, version=7),
            tally_routing_key(view.id),
        )
        fresh = await recv(ws)
        assert fresh == single_tally([0, 1, 0, 0], 7)


async def test_hidden_results_wait_for_the_reveal(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view, version = await seed_poll(redis_client, keys, hide_results_until_reveal=True)
    fanout = gateway.context.fanout
    async with client(gateway, view.room_code) as ws, live_publisher(resources) as publish:
        await join(ws, "Ann")
        await publish(
            TallyUpdated(poll_id=view.id, epoch=0, counts=[2, 1, 0], total=3, version=4),
            tally_routing_key(view.id),
        )
        await eventually(lambda: getattr(fanout.latest_tally(view.id), "version", 0) == 4)
        fanout.flush()  # a flush now must not show the hidden tally
        assert (await request(ws, {"type": "ping"}))["type"] == "pong"

        revealed = changed(view, revealed=True, status=PollStatus.CLOSED)
        await publish(
            PollStateChanged(poll=revealed, state_version=version + 1), state_routing_key(view.id)
        )
        state = await recv(ws)
        assert state_of(state) == ("closed", True, 0, 0, 0, 0)
        tally = await recv(ws)
        assert tally == single_tally([2, 1, 0], 4)
