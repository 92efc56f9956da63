"""A run of questions on the screens: joined per question, poll_state on show, tallies per
question (coalesced, of their kind), results hidden until each question is revealed."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis

from contracts import PollStateChanged, TallyUpdated
from contracts.polls import PollStatus, PollView
from contracts.topology import state_routing_key, tally_routing_key
from tests.support.eventually import eventually
from tests.support.isolation import Resources
from tests.ws_gateway.conftest import (
    changed,
    client,
    join,
    live_publisher,
    question,
    recv,
    recv_until,
    request,
    seed_poll,
    single_tally,
    state_of,
    vote_reader,
    write_state,
    write_tally,
)
from ws_gateway.app import Gateway
from zephyr_runtime.keys import RedisKeys

SINGLE = {"kind": "single", "prompt": "Lunch?", "options": ["Pizza", "Soup", "Salad"]}
RATING = {"kind": "rating", "prompt": "How was it?", "min": 1, "max": 5}
RANKING = {"kind": "ranking", "prompt": "Order", "options": ["A", "B", "C"], "rank_count": 2}


def rating_aggregate(counts: list[int]) -> dict[str, Any]:
    total = sum(counts)
    points = sum((value + 1) * n for value, n in enumerate(counts))
    mean = f"{points / total:.2f}" if total else None
    return {"kind": "rating", "counts": counts, "total": total, "sum": points, "mean": mean}


def rating_tally(poll: PollView, counts: list[int], version: int, epoch: int = 0) -> TallyUpdated:
    return TallyUpdated(
        poll_id=poll.id,
        qid=3,
        kind="rating",
        epoch=epoch,
        counts=counts,
        total=sum(counts),
        version=version,
        aggregate=rating_aggregate(counts),
    )


async def seed_two(
    redis: aioredis.Redis, keys: RedisKeys, *, current: int = 0, hidden: bool = False
) -> PollView:
    """Question 0 (qid 0, single) and question 1 (qid 3, rating), both open."""
    questions = [question(0, SINGLE), question(3, RATING, index=1)]
    view, _ = await seed_poll(
        redis, keys, questions=questions, current=current, hide_results_until_reveal=hidden
    )
    return view


async def test_resume_gives_the_current_question_and_my_answers_of_each_epoch(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view = await seed_two(redis_client, keys, current=1)
    async with vote_reader(resources, [view.id]) as reader:
        async with client(gateway, view.room_code) as ws:
            first = await join(ws, "Ann")
            assert (await request(ws, {"type": "vote", "value": 4}))["type"] == "vote_accepted"
            named = await request(ws, {"type": "vote", "question": 0, "option": 2})
            assert named["type"] == "vote_accepted"
        await reader.wait_for_votes(2)
    await write_tally(
        redis_client, keys, view.id, [0, 0, 0, 1, 0], epoch=0, version=3, qid=3, kind="rating",
        aggregate=rating_aggregate([0, 0, 0, 1, 0]),
    )  # fmt: skip
    token = first["resume_token"]
    async with client(gateway, view.room_code) as ws:
        again = await join(ws, "x", resume_token=token)
    assert again["current"] == 1
    assert again["my_vote"] is None  # the current question is not a single choice
    assert sorted(again["my_answers"], key=lambda a: a["qid"]) == [
        {"question": 0, "qid": 0, "answer": {"kind": "single", "option": 2}},
        {"question": 1, "qid": 3, "answer": {"kind": "rating", "value": 4}},
    ]
    assert again["tally"] == {
        "question": 1,
        "qid": 3,
        "kind": "rating",
        "counts": [0, 0, 0, 1, 0],
        "total": 1,
        "sum": 4,
        "mean": "4.00",
        "version": 3,
    }

    # Question 0 is reset (epoch 1) and shown: its earlier answer no longer counts.
    reset = changed(changed(view, 0, epoch=1, status=PollStatus.DRAFT), current=0)
    await write_state(redis_client, keys, reset, 5)
    async with client(gateway, view.room_code) as ws:
        later = await join(ws, "x", resume_token=token)
    assert later["current"] == 0
    assert later["my_vote"] is None
    assert later["tally"] is None  # question 0 has no tally yet
    assert later["my_answers"] == [
        {"question": 1, "qid": 3, "answer": {"kind": "rating", "value": 4}}
    ]


async def test_show_sends_poll_state_with_the_new_current_question(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view = await seed_two(redis_client, keys)
    async with client(gateway, view.room_code) as ws, live_publisher(resources) as publish:
        await join(ws, "Ann")
        shown = changed(view, current=1)
        await publish(
            PollStateChanged(poll=shown, state_version=2, qid=3), state_routing_key(view.id)
        )
        state, skipped = await recv_until(ws, "poll_state")
        assert skipped == []
        assert state_of(state) == ("open", False, 0, 1, 1, 3)
        assert state["spec"]["kind"] == "rating"
        assert state["server_time"]
        # Now the current question is the rating: a vote without `question` answers it.
        assert (await request(ws, {"type": "vote", "value": 2}))["qid"] == 3

        # A change of a question that is not current: its state, and the current index.
        closed = changed(shown, 0, status=PollStatus.CLOSED)
        await publish(
            PollStateChanged(poll=closed, state_version=3, qid=0), state_routing_key(view.id)
        )
        state, _ = await recv_until(ws, "poll_state")
        assert state_of(state) == ("closed", False, 0, 1, 0, 0)
        assert state["spec"]["kind"] == "single"


async def test_tallies_are_per_question_coalesced_and_of_their_kind(
    start_gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view = await seed_two(redis_client, keys)
    async with (
        start_gateway(tally_interval_ms=200) as gw,
        client(gw, view.room_code) as ws,
        live_publisher(resources) as publish,
    ):
        await join(ws, "Ann")
        messages = [rating_tally(view, [v, 0, 0, 0, 1], v) for v in range(1, 21)]
        messages += [
            TallyUpdated(poll_id=view.id, qid=0, epoch=0, counts=[v, 1, 0], total=v + 1, version=v)
            for v in range(1, 21)
        ]
        await asyncio.gather(*(publish(m, tally_routing_key(view.id)) for m in messages))
        latest: dict[int, dict[str, Any]] = {}
        frames = 0
        while latest.get(0, {}).get("version") != 20 or latest.get(3, {}).get("version") != 20:
            frame = await recv(ws)
            assert frame["type"] == "tally"
            assert frame["version"] > latest.get(frame["qid"], {}).get("version", 0)
            latest[frame["qid"]] = frame
            frames += 1
        assert frames < len(messages)
        assert latest[0] == single_tally([20, 1, 0], 20)
        assert latest[3] == {
            "type": "tally",
            "question": 1,
            "qid": 3,
            "kind": "rating",
            **rating_aggregate([20, 0, 0, 0, 1]),
            "version": 20,
        }


async def test_each_question_stays_hidden_until_it_is_revealed(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view = await seed_two(redis_client, keys, hidden=True)
    fanout = gateway.context.fanout
    async with client(gateway, view.room_code) as ws, live_publisher(resources) as publish:
        assert (await join(ws, "Ann"))["tally"] is None
        await publish(rating_tally(view, [1, 0, 0, 0, 0], 4), tally_routing_key(view.id))
        await publish(
            TallyUpdated(poll_id=view.id, qid=0, epoch=0, counts=[2, 0, 0], total=2, version=6),
            tally_routing_key(view.id),
        )
        await eventually(lambda: getattr(fanout.latest_tally(view.id, 0), "version", 0) == 6)
        await eventually(lambda: getattr(fanout.latest_tally(view.id, 3), "version", 0) == 4)
        fanout.flush()  # a flush now must show neither hidden tally
        assert (await request(ws, {"type": "ping"}))["type"] == "pong"

        revealed = changed(view, 3, revealed=True)
        await publish(
            PollStateChanged(poll=revealed, state_version=2, qid=3), state_routing_key(view.id)
        )
        state = await recv(ws)
        assert state_of(state) == ("open", True, 0, 0, 1, 3)
        tally = await recv(ws)
        assert (tally["qid"], tally["version"], tally["counts"]) == (3, 4, [1, 0, 0, 0, 0])
        # Question 0 is still hidden: its new tallies are not sent, question 1's are.
        await publish(
            TallyUpdated(poll_id=view.id, qid=0, epoch=0, counts=[3, 0, 0], total=3, version=7),
            tally_routing_key(view.id),
        )
        await publish(rating_tally(view, [1, 1, 0, 0, 0], 5), tally_routing_key(view.id))
        nxt = await recv(ws)
        assert (nxt["qid"], nxt["version"]) == (3, 5)
        fanout.flush()
        assert (await request(ws, {"type": "ping"}))["type"] == "pong"


async def test_a_reset_of_one_question_sends_its_zero_tally_in_its_kind(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    questions = [question(0, SINGLE), question(1, RANKING, epoch=2)]
    view, _ = await seed_poll(redis_client, keys, questions=questions)
    async with client(gateway, view.room_code) as ws, live_publisher(resources) as publish:
        await join(ws, "Ann")
        reset = changed(view, 1, epoch=3, status=PollStatus.DRAFT)
        await publish(
            PollStateChanged(poll=reset, state_version=2, qid=1), state_routing_key(view.id)
        )
        assert state_of(await recv(ws)) == ("draft", False, 3, 0, 1, 1)
        assert await recv(ws) == {
            "type": "tally",
            "question": 1,
            "qid": 1,
            "kind": "ranking",
            "points": [0, 0, 0],
            "average": [None, None, None],
            "total": 0,
            "version": 0,
        }
        assert (await request(ws, {"type": "ping"}))["type"] == "pong"  # question 0: nothing


async def test_a_tally_whose_aggregate_does_not_fit_is_not_sent(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view = await seed_two(redis_client, keys)
    async with client(gateway, view.room_code) as ws, live_publisher(resources) as publish:
        await join(ws, "Ann")
        broken = rating_tally(view, [1, 0, 0, 0, 0], 2).model_copy(
            update={"aggregate": {"kind": "rating", "counts": "many", "mean": 3}}
        )
        await publish(broken, tally_routing_key(view.id))
        await publish(
            TallyUpdated(poll_id=view.id, qid=0, epoch=0, counts=[0, 1, 0], total=1, version=1),
            tally_routing_key(view.id),
        )
        assert await recv(ws) == single_tally([0, 1, 0], 1)
        await publish(rating_tally(view, [1, 1, 0, 0, 0], 3), tally_routing_key(view.id))
        fine = await recv(ws)
        assert (fine["qid"], fine["version"], fine["mean"]) == (3, 3, "1.50")


async def test_a_change_read_from_redis_at_a_join_reaches_the_other_screens(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    view = await seed_two(redis_client, keys)
    async with client(gateway, view.room_code) as a, client(gateway, view.room_code) as b:
        await join(a, "Ann")
        # Question 1 closed and shown; its message has not come (or was missed).
        closed = changed(changed(view, 3, status=PollStatus.CLOSED), current=1)
        await write_state(redis_client, keys, closed, 2)
        joined = await join(b, "Bob")
        assert joined["current"] == 1
        assert joined["poll"]["questions"][1]["status"] == "closed"
        state, skipped = await recv_until(a, "poll_state")
        assert skipped == []
        assert state_of(state) == ("closed", False, 0, 1, 1, 3)
        assert (await request(a, {"type": "ping"}))["type"] == "pong"  # one frame, not more


async def test_a_tally_that_comes_before_its_question_goes_out_with_it(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view = await seed_two(redis_client, keys)
    fanout = gateway.context.fanout
    async with client(gateway, view.room_code) as ws, live_publisher(resources) as publish:
        await join(ws, "Ann")
        early = TallyUpdated(poll_id=view.id, qid=7, epoch=0, counts=[1, 0, 0], total=1, version=1)
        await publish(early, tally_routing_key(view.id))
        await eventually(lambda: fanout.latest_tally(view.id, 7) is not None)
        added = [*view.questions, question(7, SINGLE, index=2)]
        await publish(
            PollStateChanged(poll=changed(view, questions=added), state_version=2, qid=7),
            state_routing_key(view.id),
        )
        assert state_of(await recv(ws)) == ("open", False, 0, 0, 2, 7)
        assert await recv(ws) == single_tally([1, 0, 0], 1, question=2, qid=7)


async def test_a_resync_after_a_broker_reconnect_reads_every_question_from_redis(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    view = await seed_two(redis_client, keys)
    async with client(gateway, view.room_code) as ws:
        await join(ws, "Ann")
        # While the broker was away: question 1 closed, and both questions got answers.
        await write_state(redis_client, keys, changed(view, 3, status=PollStatus.CLOSED), 2)
        await write_tally(redis_client, keys, view.id, [0, 2, 0], epoch=0, version=4)
        await write_tally(
            redis_client, keys, view.id, [0, 1, 0, 0, 0], epoch=0, version=2, qid=3,
            kind="rating", aggregate=rating_aggregate([0, 1, 0, 0, 0]),
        )  # fmt: skip
        await gateway.context.live.resync()
        state, _ = await recv_until(ws, "poll_state")
        assert state_of(state) == ("closed", False, 0, 0, 1, 3)
        tallies = {}
        while len(tallies) < 2:
            frame, _ = await recv_until(ws, "tally")
            tallies[frame["qid"]] = frame
        assert tallies[0] == single_tally([0, 2, 0], 4)
        assert (tallies[3]["question"], tallies[3]["mean"], tallies[3]["version"]) == (1, "2.00", 2)


async def test_a_move_tells_the_screens_about_every_question_whose_index_changed(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view = await seed_two(redis_client, keys)
    async with client(gateway, view.room_code) as ws, live_publisher(resources) as publish:
        await join(ws, "Ann")
        single, rating = view.questions
        # The rating (qid 3) moves to index 0; the single choice (qid 0) shifts to index 1.
        moved = changed(
            view,
            current=1,
            questions=[
                rating.model_copy(update={"index": 0}),
                single.model_copy(update={"index": 1}),
            ],
        )
        await publish(
            PollStateChanged(poll=moved, state_version=2, qid=3), state_routing_key(view.id)
        )
        first, _ = await recv_until(ws, "poll_state")
        second, _ = await recv_until(ws, "poll_state")
        assert {(f["qid"], f["question"], f["current"]) for f in (first, second)} == {
            (3, 0, 1),
            (0, 1, 1),
        }
        assert first["qid"] == 3  # the question the change names comes first
