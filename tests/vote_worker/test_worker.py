"""The whole worker in this process, on the real servers: RabbitMQ in, Postgres/Redis/RabbitMQ
out (the consumers, the flusher and the reconciler together)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson
import redis.asyncio as aioredis
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from contracts import AuditBatch, ParticipantJoined, ParticipantsJoined, PollView, TallyUpdated
from contracts.base import HEADER_CORRELATION_ID
from contracts.topology import (
    AUDIT_EXCHANGE,
    LIVE_EXCHANGE,
    PARTICIPANTS_QUEUE,
    POLLS_EXCHANGE,
    VOTES_QUEUE,
    dead_letter_queue,
    poll_binding_key,
    poll_event_routing_key,
)
from tests.support.eventually import eventually
from tests.vote_worker.bus import listen, publish, publish_raw, receive_until
from tests.vote_worker.factories import (
    batch,
    create_poll,
    group_by,
    poll_event,
    set_poll,
    tally,
    vote,
)
from vote_worker.worker import Worker
from zephyr_runtime.keys import RedisKeys


def tallies_of(messages: list[AbstractIncomingMessage]) -> list[TallyUpdated]:
    return [TallyUpdated.model_validate_json(m.body) for m in messages]


def audit_events(messages: list[AbstractIncomingMessage]) -> list:
    return [e for m in messages for e in AuditBatch.model_validate_json(m.body).events]


async def redis_tally(redis_client: aioredis.Redis, worker: Worker, poll_id: uuid.UUID) -> dict:
    key = RedisKeys(worker.settings.redis_prefix).tally(poll_id)
    return await redis_client.hgetall(key)


async def test_votes_are_recorded_cached_published_and_audited(
    worker: Worker, channel: AbstractChannel, db: asyncpg.Connection, redis_client
) -> None:
    poll = await create_poll(db)
    live = await listen(channel, LIVE_EXCHANGE, poll_binding_key(poll))
    audit = await listen(channel, AUDIT_EXCHANGE, "#")
    alice, bob, carol = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    first = batch(vote(poll, alice, 0, seq=1), vote(poll, bob, 1, seq=1))
    second = batch(vote(poll, alice, 2, seq=2), vote(poll, carol, 1, seq=1))
    redelivered = batch(*first.votes)  # the same vote ids again, in another message
    for message in (first, second, redelivered):
        await publish(channel, message, routing_key=VOTES_QUEUE, correlation_id="cid-votes-1")

    async def recorded() -> bool:
        return await group_by(db, poll, 3) == [0, 2, 1]

    await eventually(recorded)
    row = await tally(db, poll)
    assert (list(row["counts"]), row["total"]) == ([0, 2, 1], 3)

    cached = await eventually(lambda: _version_at_least(redis_client, worker, poll, row["version"]))
    assert json.loads(cached["counts"]) == [0, 2, 1]
    assert (cached["total"], cached["epoch"]) == ("3", "0")

    updates = await receive_until(
        live, lambda got: any(t.version == row["version"] for t in tallies_of(got))
    )
    final = next(t for t in tallies_of(updates) if t.version == row["version"])
    assert (final.counts, final.total, final.epoch) == ([0, 2, 1], 3, 0)
    # The votes' correlation id travels with the tallies they changed (under load the reconciler
    # may republish one too, with its own id).
    assert any(m.headers[HEADER_CORRELATION_ID] == "cid-votes-1" for m in updates)
    assert updates[0].type == TallyUpdated.message_type()

    vote_ids = {str(v.vote_id) for v in (*first.votes, *second.votes)}

    def all_recorded(got: list[AbstractIncomingMessage]) -> bool:
        seen = {e.data["vote_id"] for e in audit_events(got) if e.kind == "vote.recorded"}
        return vote_ids <= seen

    messages = await receive_until(audit, all_recorded)
    events = [e for e in audit_events(messages) if e.kind == "vote.recorded"]
    assert {e.service for e in events} == {"vote-worker"}
    by_vote = {e.data["vote_id"]: e for e in events}
    alice_second = by_vote[str(second.votes[0].vote_id)]
    assert alice_second.data == {
        "vote_id": str(second.votes[0].vote_id),
        "qid": 0,
        "answer": {"kind": "single", "option": 2},
        "option": 2,
        "seq": 2,
        "epoch": 0,
    }
    assert alice_second.poll_id == poll and alice_second.participant_id == alice
    assert alice_second.event_id == uuid.uuid5(
        uuid.NAMESPACE_URL, f"zephyr:vote.recorded:{second.votes[0].vote_id}"
    )
    # Every recorded event of one vote carries the same id: audit-sink stores it once.
    assert len({e.event_id for e in events}) == len(vote_ids)


async def _version_at_least(redis_client, worker, poll, version) -> dict | None:
    cached = await redis_tally(redis_client, worker, poll)
    return cached if cached and int(cached["version"]) >= version else None


async def test_rejected_votes_are_acked_and_audited(
    worker: Worker, channel: AbstractChannel, db: asyncpg.Connection
) -> None:
    poll = await create_poll(db, options=2)
    audit = await listen(channel, AUDIT_EXCHANGE, "#")
    bad = vote(poll, uuid.uuid4(), 1, seq=1, epoch=5)
    good = vote(poll, uuid.uuid4(), 1, seq=1)
    await publish(channel, batch(bad, good), routing_key=VOTES_QUEUE)

    def rejected(got: list[AbstractIncomingMessage]) -> bool:
        return any(e.kind == "vote.rejected" for e in audit_events(got))

    events = audit_events(await receive_until(audit, rejected))
    rejection = next(e for e in events if e.kind == "vote.rejected")
    assert rejection.data == {"vote_id": str(bad.vote_id), "qid": 0, "reason": "stale_epoch"}
    await eventually(lambda: _counts_are(db, poll, [0, 1]))
    assert await db.fetchval("SELECT count(*) FROM ballots WHERE vote_id = $1", bad.vote_id) == 0


async def _counts_are(db, poll, counts) -> bool:
    row = await tally(db, poll)
    return row is not None and list(row["counts"]) == counts


async def test_poison_messages_dead_letter_and_the_rest_is_recorded(
    worker: Worker, channel: AbstractChannel, db: asyncpg.Connection
) -> None:
    poll = await create_poll(db)
    audit = await listen(channel, AUDIT_EXCHANGE, "#")
    dead = await channel.declare_queue(dead_letter_queue(VOTES_QUEUE), passive=True)
    not_json, wrong_schema = f"poison-{uuid.uuid4()}", f"poison-{uuid.uuid4()}"
    before = batch(vote(poll, uuid.uuid4(), 0, seq=1))
    after = batch(vote(poll, uuid.uuid4(), 2, seq=1))

    await publish(channel, before, routing_key=VOTES_QUEUE)
    await publish_raw(channel, b"{not json", routing_key=VOTES_QUEUE, message_id=not_json)
    await publish_raw(
        channel,
        orjson.dumps({"batch_id": str(uuid.uuid4()), "gateway_id": "g", "votes": []}),
        routing_key=VOTES_QUEUE,
        message_id=wrong_schema,
    )
    await publish(channel, after, routing_key=VOTES_QUEUE)

    await eventually(lambda: _counts_are(db, poll, [1, 0, 1]))

    ours = {not_json, wrong_schema}
    dead_ids: set[str] = set()
    while dead_ids != ours:
        message = await eventually(lambda: dead.get(fail=False))
        if message.message_id in ours:
            dead_ids.add(message.message_id)
            assert message.headers["x-first-death-reason"] == "rejected"
            await message.ack()
        else:
            await message.reject(requeue=True)  # another test's dead letter: leave it

    def both_audited(got: list[AbstractIncomingMessage]) -> bool:
        poison = [e for e in audit_events(got) if e.kind == "vote.poison"]
        return {e.data["message_id"] for e in poison} >= ours

    events = audit_events(await receive_until(audit, both_audited))
    reasons = {e.data["message_id"]: e.data["reason"] for e in events if e.kind == "vote.poison"}
    assert reasons[not_json] == "invalid_json"
    assert reasons[wrong_schema].startswith("invalid_schema: votes")


async def test_participants_are_upserted_idempotently(
    worker: Worker, channel: AbstractChannel, db: asyncpg.Connection
) -> None:
    poll, who = uuid.uuid4(), uuid.uuid4()
    joined_at = datetime.now(UTC).replace(microsecond=0)
    first = ParticipantJoined(poll_id=poll, participant_id=who, nickname="Ada", joined_at=joined_at)
    later = ParticipantJoined(
        poll_id=poll,
        participant_id=who,
        nickname="Ada",
        joined_at=joined_at + timedelta(minutes=5),
        resumed=True,
    )
    for message in (first, later, first):  # the last one is a late redelivery
        await publish(channel, message, routing_key=PARTICIPANTS_QUEUE)

    async def seen_twice() -> asyncpg.Record | None:
        row = await db.fetchrow(
            "SELECT nickname, joined_at, last_seen_at FROM participants"
            " WHERE poll_id = $1 AND participant_id = $2",
            poll,
            who,
        )
        return row if row and row["last_seen_at"] == later.joined_at else None

    row = await eventually(seen_twice)
    assert row["nickname"] == "Ada"
    assert row["joined_at"] == joined_at
    count = await db.fetchval("SELECT count(*) FROM participants WHERE poll_id = $1", poll)
    assert count == 1


async def test_a_batch_of_joins_is_stored_in_one_message_one_row_each(
    worker: Worker, channel: AbstractChannel, db: asyncpg.Connection
) -> None:
    """A gateway's `ParticipantsJoined`: one row per participant, a participant joined twice
    in the batch (a resume right after the join) keeps the earliest join, the latest name."""
    poll = uuid.uuid4()
    at = datetime.now(UTC).replace(microsecond=0)
    people = [uuid.uuid4() for _ in range(40)]
    joins = [
        ParticipantJoined(poll_id=poll, participant_id=p, nickname=f"p{i}", joined_at=at)
        for i, p in enumerate(people)
    ]
    again = ParticipantJoined(
        poll_id=poll,
        participant_id=people[0],
        nickname="renamed",
        joined_at=at + timedelta(seconds=3),
        resumed=True,
    )
    message = ParticipantsJoined(joins=[*joins, again])
    await publish(channel, message, routing_key=PARTICIPANTS_QUEUE)
    await publish(channel, message, routing_key=PARTICIPANTS_QUEUE)  # redelivered

    async def stored() -> int | None:
        n = await db.fetchval("SELECT count(*) FROM participants WHERE poll_id = $1", poll)
        return n if n == len(people) else None

    await eventually(stored)
    row = await db.fetchrow(
        "SELECT nickname, joined_at, last_seen_at FROM participants"
        " WHERE poll_id = $1 AND participant_id = $2",
        poll,
        people[0],
    )
    assert (row["nickname"], row["joined_at"], row["last_seen_at"]) == (
        "renamed",
        at,
        again.joined_at,
    )
    names = await db.fetch(
        "SELECT participant_id, nickname FROM participants WHERE poll_id = $1", poll
    )
    assert {
        r["participant_id"]: r["nickname"] for r in names if r["participant_id"] != people[0]
    } == {p: f"p{i}" for i, p in enumerate(people) if i}


async def _poll_view(db: asyncpg.Connection, poll: uuid.UUID) -> PollView:
    row = await db.fetchrow("SELECT * FROM polls WHERE id = $1", poll)
    return PollView(
        id=poll,
        room_code=row["room_code"],
        question=row["question"],
        options=json.loads(row["options"]),
        status=row["status"],
        epoch=row["epoch"],
    )


async def test_opened_event_publishes_a_zero_tally(
    worker: Worker, channel: AbstractChannel, db: asyncpg.Connection, redis_client
) -> None:
    poll = await create_poll(db, options=4, status="open")
    live = await listen(channel, LIVE_EXCHANGE, poll_binding_key(poll))
    view = await _poll_view(db, poll)
    await publish(
        channel,
        poll_event("opened", view),
        exchange=POLLS_EXCHANGE,
        routing_key=poll_event_routing_key("opened"),
    )
    update = tallies_of(await receive_until(live, lambda got: True))[0]
    assert (update.poll_id, update.counts, update.total, update.epoch) == (poll, [0] * 4, 0, 0)
    assert (await tally(db, poll))["counts"] == [0, 0, 0, 0]
    cached = await eventually(lambda: redis_tally(redis_client, worker, poll))
    assert json.loads(cached["counts"]) == [0, 0, 0, 0]


async def test_reset_event_clears_votes_and_publishes_zeros(
    worker: Worker, channel: AbstractChannel, db: asyncpg.Connection, redis_client
) -> None:
    poll = await create_poll(db)
    live = await listen(channel, LIVE_EXCHANGE, poll_binding_key(poll))
    await publish(
        channel,
        batch(vote(poll, uuid.uuid4(), 1, seq=1), vote(poll, uuid.uuid4(), 1, seq=1)),
        routing_key=VOTES_QUEUE,
    )
    await eventually(lambda: _counts_are(db, poll, [0, 2, 0]))

    await set_poll(db, poll, epoch=1, status="draft")  # what poll-api's reset commits
    await publish(
        channel,
        poll_event("reset", await _poll_view(db, poll)),
        exchange=POLLS_EXCHANGE,
        routing_key=poll_event_routing_key("reset"),
    )
    updates = await receive_until(live, lambda got: any(t.epoch == 1 for t in tallies_of(got)))
    zero = next(t for t in tallies_of(updates) if t.epoch == 1)
    assert (zero.counts, zero.total) == ([0, 0, 0], 0)
    assert await db.fetchval("SELECT count(*) FROM votes WHERE poll_id = $1", poll) == 0
    cached = await eventually(lambda: _version_at_least(redis_client, worker, poll, zero.version))
    assert (cached["epoch"], json.loads(cached["counts"])) == ("1", [0, 0, 0])


async def test_reconciler_rewrites_a_lost_redis_tally(
    worker: Worker, channel: AbstractChannel, db: asyncpg.Connection, redis_client
) -> None:
    poll = await create_poll(db)
    await publish(channel, batch(vote(poll, uuid.uuid4(), 2, seq=1)), routing_key=VOTES_QUEUE)
    await eventually(lambda: _counts_are(db, poll, [0, 0, 1]))
    version = (await tally(db, poll))["version"]
    await eventually(lambda: _version_at_least(redis_client, worker, poll, version))

    live = await listen(channel, LIVE_EXCHANGE, poll_binding_key(poll))
    await redis_client.delete(RedisKeys(worker.settings.redis_prefix).tally(poll))
    cached = await eventually(lambda: redis_tally(redis_client, worker, poll))
    assert (int(cached["version"]), json.loads(cached["counts"])) == (version, [0, 0, 1])
    republished = tallies_of(await receive_until(live, lambda got: True))[0]
    assert (republished.version, republished.counts) == (version, [0, 0, 1])
