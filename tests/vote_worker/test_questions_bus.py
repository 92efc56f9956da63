"""The worker in this process with a run of questions: first- and second-version batches in,
one `TallyUpdated` and one Redis hash per question out, a reset of one question, the reconciler
recounting drifted counters."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import asyncpg
import orjson
import redis.asyncio as aioredis
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from contracts import PollView, TallyUpdated
from contracts.aggregates import encode_counters
from contracts.topology import (
    LIVE_EXCHANGE,
    POLLS_EXCHANGE,
    VOTES_QUEUE,
    poll_binding_key,
    poll_event_routing_key,
)
from tests.support.eventually import eventually
from tests.support.isolation import Resources
from tests.vote_worker.bus import listen, publish, publish_raw, receive_until
from tests.vote_worker.factories import (
    aggregate,
    answer,
    batch,
    create_run,
    poll_event,
    set_question,
    single,
    tally,
)
from vote_worker.tallies import TallySnapshot
from vote_worker.tally_cache import TallyCache
from vote_worker.worker import Worker
from zephyr_runtime.keys import RedisKeys

RUN = [
    single(3),
    {"kind": "multiple", "prompt": "Which?", "options": ["a", "b", "c"], "max_choices": 2},
    {"kind": "rating", "prompt": "How good?", "min": 0, "max": 10},
]


def tallies_of(messages: list[AbstractIncomingMessage]) -> list[TallyUpdated]:
    return [TallyUpdated.model_validate_json(m.body) for m in messages]


def latest(messages: list[AbstractIncomingMessage], qid: int) -> TallyUpdated | None:
    mine = [t for t in tallies_of(messages) if t.qid == qid]
    return max(mine, key=lambda t: t.version) if mine else None


async def cached(redis_client: aioredis.Redis, worker: Worker, poll: uuid.UUID, qid: int) -> dict:
    return await redis_client.hgetall(RedisKeys(worker.settings.redis_prefix).tally(poll, qid))


def view(poll: uuid.UUID) -> PollView:
    return PollView(id=poll, room_code="ABCD23", question="Which one?", status="open", epoch=0)


async def test_a_first_version_batch_is_recorded_as_question_0(
    worker: Worker, channel: AbstractChannel, db: asyncpg.Connection, redis_client
) -> None:
    poll = await create_run(db, RUN)
    live = await listen(channel, LIVE_EXCHANGE, poll_binding_key(poll))
    who = uuid.uuid4()
    # Exactly what a gateway of the previous release publishes: `option`, no qid, no answer.
    body = {
        "batch_id": str(uuid.uuid4()),
        "gateway_id": "old-gateway",
        "votes": [
            {
                "vote_id": str(uuid.uuid4()),
                "poll_id": str(poll),
                "participant_id": str(who),
                "option": 2,
                "seq": 1,
                "epoch": 0,
                "cast_at": datetime.now(UTC).isoformat(),
                "client_vote_id": "c1",
            }
        ],
    }
    await publish_raw(channel, orjson.dumps(body), routing_key=VOTES_QUEUE, message_id="v1-batch")

    update = latest(await receive_until(live, lambda got: latest(got, 0) is not None), 0)
    assert update is not None
    assert (update.qid, update.kind, update.counts, update.total) == (0, "single", [0, 0, 1], 1)
    assert update.aggregate == {"kind": "single", "counts": [0, 0, 1], "total": 1}
    row = await db.fetchrow(
        "SELECT qid, answer::text AS answer FROM votes WHERE poll_id = $1", poll
    )
    assert (row["qid"], json.loads(row["answer"])) == (0, {"kind": "single", "option": 2})
    hashed = await eventually(lambda: cached(redis_client, worker, poll, 0))
    assert json.loads(hashed["counts"]) == [0, 0, 1]


async def test_each_question_gets_its_tally_message_and_redis_hash(
    worker: Worker, channel: AbstractChannel, db: asyncpg.Connection, redis_client
) -> None:
    poll = await create_run(db, RUN)
    live = await listen(channel, LIVE_EXCHANGE, poll_binding_key(poll))
    ann, bob = uuid.uuid4(), uuid.uuid4()
    await publish(
        channel,
        batch(
            answer(poll, ann, 1, {"kind": "multiple", "options": [2, 0]}, seq=1),
            answer(poll, bob, 1, {"kind": "multiple", "options": [0]}, seq=1),
            answer(poll, ann, 2, {"kind": "rating", "value": 0}, seq=2),
            answer(poll, bob, 2, {"kind": "rating", "value": 7}, seq=2),
        ),
        routing_key=VOTES_QUEUE,
    )
    got = await receive_until(live, lambda got: {t.qid for t in tallies_of(got)} >= {1, 2})
    multiple, rating = latest(got, 1), latest(got, 2)
    assert multiple is not None and rating is not None
    assert (multiple.kind, multiple.counts, multiple.total) == ("multiple", [2, 0, 1], 2)
    assert rating.aggregate == {
        "kind": "rating",
        "counts": [1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
        "total": 2,
        "sum": 7,
        "mean": "3.50",
    }
    # Question 0 had no answer: the reconciler gives the open question its zeros all the same.
    zeros = await eventually(lambda: tally(db, poll, 0))
    assert (list(zeros["counts"]), zeros["total"]) == ([0, 0, 0], 0)

    hashed = await eventually(lambda: cached(redis_client, worker, poll, 2))
    assert (hashed["version"], hashed["epoch"], hashed["kind"], hashed["total"]) == (
        str(rating.version),
        "0",
        "rating",
        "2",
    )
    assert json.loads(hashed["aggregate"]) == rating.aggregate
    assert json.loads(hashed["counts"]) == rating.counts
    assert json.loads((await cached(redis_client, worker, poll, 1))["counts"]) == [2, 0, 1]


async def test_a_reset_of_one_question_republishes_it_empty_and_leaves_the_others(
    worker: Worker, channel: AbstractChannel, db: asyncpg.Connection, redis_client
) -> None:
    poll = await create_run(db, RUN)
    live = await listen(channel, LIVE_EXCHANGE, poll_binding_key(poll))
    ann = uuid.uuid4()
    await publish(
        channel,
        batch(
            answer(poll, ann, 1, {"kind": "multiple", "options": [1]}, seq=1),
            answer(poll, ann, 2, {"kind": "rating", "value": 9}, seq=2),
        ),
        routing_key=VOTES_QUEUE,
    )
    await receive_until(live, lambda got: {t.qid for t in tallies_of(got)} >= {1, 2})
    rating_row = await tally(db, poll, 2)
    # A queue that stopped being consumed is gone (auto-delete): listen again.
    live = await listen(channel, LIVE_EXCHANGE, poll_binding_key(poll))

    await set_question(db, poll, 1, epoch=1, status="draft")  # what poll-api's reset commits
    await publish(
        channel,
        poll_event("reset", view(poll), qid=1),
        exchange=POLLS_EXCHANGE,
        routing_key=poll_event_routing_key("reset"),
    )
    got = await receive_until(live, lambda got: any(t.epoch == 1 for t in tallies_of(got)))
    reset = next(t for t in tallies_of(got) if t.epoch == 1)
    assert (reset.qid, reset.total, reset.counts) == (1, 0, [0, 0, 0])
    assert reset.aggregate == {"kind": "multiple", "counts": [0, 0, 0], "total": 0}
    assert all(t.qid != 2 for t in tallies_of(got))  # question 2 is not republished
    assert await tally(db, poll, 2) == rating_row
    count = "SELECT count(*) FROM votes WHERE poll_id = $1 AND qid = $2"
    assert (await db.fetchval(count, poll, 1), await db.fetchval(count, poll, 2)) == (0, 1)
    hashed = await eventually(lambda: _at_epoch(redis_client, worker, poll, 1, 1))
    assert json.loads(hashed["aggregate"])["total"] == 0
    assert (await cached(redis_client, worker, poll, 2))["version"] == str(rating_row["version"])


async def _at_epoch(redis_client, worker, poll, qid, epoch) -> dict | None:
    hashed = await cached(redis_client, worker, poll, qid)
    return hashed if hashed and hashed["epoch"] == str(epoch) else None


async def test_an_opened_event_publishes_the_questions_current_tally(
    worker: Worker, channel: AbstractChannel, db: asyncpg.Connection
) -> None:
    poll = await create_run(db, RUN, status="draft")
    live = await listen(channel, LIVE_EXCHANGE, poll_binding_key(poll))
    await set_question(db, poll, 2, status="open")
    await publish(
        channel,
        poll_event("opened", view(poll), qid=2),
        exchange=POLLS_EXCHANGE,
        routing_key=poll_event_routing_key("opened"),
    )
    update = tallies_of(await receive_until(live, lambda got: True))[0]
    assert (update.qid, update.kind, update.total) == (2, "rating", 0)
    assert update.aggregate["counts"] == [0] * 11 and update.aggregate["mean"] is None


async def test_the_reconciler_recounts_a_corrupted_counters_row(
    worker: Worker, channel: AbstractChannel, db: asyncpg.Connection
) -> None:
    poll = await create_run(db, RUN)
    live = await listen(channel, LIVE_EXCHANGE, poll_binding_key(poll))
    await publish(
        channel,
        batch(
            answer(poll, uuid.uuid4(), 1, {"kind": "multiple", "options": [0, 1]}, seq=1),
            answer(poll, uuid.uuid4(), 1, {"kind": "multiple", "options": [1]}, seq=1),
        ),
        routing_key=VOTES_QUEUE,
    )
    first = latest(await receive_until(live, lambda got: latest(got, 1) is not None), 1)
    assert first is not None
    right = first.aggregate
    live = await listen(channel, LIVE_EXCHANGE, poll_binding_key(poll))
    wrong = {"kind": "multiple", "counts": [5, 0, 0], "total": 5}
    await db.execute(
        "UPDATE tallies SET counters = $3::jsonb, aggregate = $4::jsonb, counts = '{5,0,0}',"
        " total = 5 WHERE poll_id = $1 AND qid = $2",
        poll,
        1,
        json.dumps(encode_counters({("counts", 0): 5, ("total",): 5})),
        json.dumps(wrong),
    )

    async def fixed() -> bool:
        return await aggregate(db, poll, 1) == right

    await eventually(fixed, timeout=30)
    row = await tally(db, poll, 1)
    assert row["version"] == first.version + 1
    again = await receive_until(
        live, lambda got: any(t.version == row["version"] for t in tallies_of(got))
    )
    republished = next(t for t in tallies_of(again) if t.version == row["version"])
    assert republished.aggregate == right


def _snapshot(poll: uuid.UUID, qid: int, version: int, total: int) -> TallySnapshot:
    counts = (total, 0)
    return TallySnapshot(
        poll_id=poll,
        qid=qid,
        kind="single",
        epoch=0,
        counts=counts,
        total=total,
        version=version,
        aggregate={"kind": "single", "counts": list(counts), "total": total},
    )


async def test_the_redis_tally_of_each_question_takes_only_a_newer_version(
    resources: Resources, redis_client
) -> None:
    client = aioredis.from_url(resources.redis_url)
    keys = RedisKeys(resources.redis_prefix)
    cache = TallyCache(client, keys, 3600)
    poll = uuid.uuid4()
    try:
        assert await cache.write([_snapshot(poll, 0, 5, 5), _snapshot(poll, 1, 2, 2)]) == [
            True,
            True,
        ]
        # Older or equal for question 0 is refused; question 1's own versions are separate.
        assert await cache.write(
            [_snapshot(poll, 0, 4, 4), _snapshot(poll, 0, 5, 9), _snapshot(poll, 1, 3, 3)]
        ) == [False, False, True]
        first = await redis_client.hgetall(keys.tally(poll, 0))
        second = await redis_client.hgetall(keys.tally(poll, 1))
        assert (first["version"], first["total"], json.loads(first["counts"])) == ("5", "5", [5, 0])
        assert (second["version"], json.loads(second["aggregate"])["total"]) == ("3", 3)
        assert await cache.versions([(poll, 0), (poll, 7)]) == [5, None]
    finally:
        await client.aclose()
