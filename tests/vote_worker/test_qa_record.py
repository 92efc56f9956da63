"""record_qa against the real Postgres: idempotent asks, latest-wins upvotes and moderation, a
score that always equals the recount, and a board that holds only released items."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import redis.asyncio as aioredis

from contracts import QaBoardUpdated
from contracts.qa import QaAsk, QaModerate, QaUpvote
from tests.support.isolation import Resources
from tests.vote_worker.factories import create_poll
from vote_worker.publish import Outbound
from vote_worker.qa import QaBoardCache, QaFlusher
from vote_worker.qa_record import record_qa
from zephyr_runtime.amqp import ConfirmedPublisher, connect, declare_topology
from zephyr_runtime.keys import RedisKeys

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


async def qa_poll(db: asyncpg.Connection, *, moderated: bool = False) -> UUID:
    poll_id = await create_poll(db)
    settings = {"qa_enabled": True, "qa_moderated": moderated}
    await db.execute(
        "UPDATE polls SET settings = $2::jsonb WHERE id = $1", poll_id, json.dumps(settings)
    )
    return poll_id


def asked(poll: UUID, who: UUID, text: str = "Why though?", seq: int = 1) -> QaAsk:
    item = uuid.uuid4()
    return QaAsk(
        action_id=item,
        poll_id=poll,
        item_id=item,
        participant_id=who,
        text=text,
        seq=seq,
        occurred_at=NOW,
    )


def up(poll: UUID, item: UUID, who: UUID, value: bool, seq: int) -> QaUpvote:
    return QaUpvote(
        action_id=uuid.uuid4(),
        poll_id=poll,
        item_id=item,
        participant_id=who,
        up=value,
        seq=seq,
        occurred_at=NOW,
    )


def moderate(poll: UUID, item: UUID, what: str, seq: int) -> QaModerate:
    return QaModerate(
        action_id=uuid.uuid4(),
        poll_id=poll,
        item_id=item,
        moderation=what,
        seq=seq,  # type: ignore[arg-type]
        occurred_at=NOW,
    )


async def scores(db: asyncpg.Connection, poll: UUID) -> dict[UUID, tuple[int, int]]:
    """item -> (stored score, recount from qa_votes)."""
    rows = await db.fetch(
        "SELECT i.item_id, i.score, (SELECT count(*) FROM qa_votes v WHERE v.item_id = i.item_id"
        " AND v.up) AS recount FROM qa_items i WHERE i.poll_id = $1",
        poll,
    )
    return {r["item_id"]: (r["score"], r["recount"]) for r in rows}


async def test_redelivered_and_reordered_actions_count_once_latest_wins(
    db: asyncpg.Connection,
) -> None:
    poll = await qa_poll(db)
    author, voters = uuid.uuid4(), [uuid.uuid4() for _ in range(30)]
    ask = asked(poll, author)
    first = await record_qa(db, [ask, ask])  # a duplicate in the batch
    assert first.new_items == {ask.item_id}
    again = await record_qa(db, [ask])  # a redelivery
    assert again.new_items == set()
    item = ask.item_id
    rng = random.Random(5)
    actions = []
    latest: dict[UUID, bool] = {}
    for voter in voters:
        changes = [rng.random() < 0.6 for _ in range(rng.randint(1, 4))]
        for seq, value in enumerate(changes, start=10):
            actions.append(up(poll, item, voter, value, seq))
        latest[voter] = changes[-1]
    rng.shuffle(actions)  # out of order, in three batches, each redelivered
    for start in range(0, len(actions), len(actions) // 3 + 1):
        chunk = actions[start : start + len(actions) // 3 + 1]
        await record_qa(db, chunk)
        await record_qa(db, chunk)
    (score, recount) = (await scores(db, poll))[item]
    assert score == recount == sum(latest.values())
    result = await record_qa(db, [up(poll, item, author, True, 99)])
    assert [r.reason for r in result.rejected] == ["own_item"]
    assert (await scores(db, poll))[item][0] == sum(latest.values())


async def test_moderation_latest_wins_and_the_board_holds_released_items_only(
    db: asyncpg.Connection,
) -> None:
    poll = await qa_poll(db, moderated=True)
    a, b = asked(poll, uuid.uuid4(), "First one?"), asked(poll, uuid.uuid4(), "Second one?")
    result = await record_qa(db, [a, b])
    assert [s for _, s in result.asked] == ["pending", "pending"]
    assert result.boards and result.boards[0].items == []  # nothing released yet
    # approve (seq 5) arrives after hide (seq 7): hide is newer and stays.
    await record_qa(db, [moderate(poll, a.item_id, "hide", 7)])
    late = await record_qa(db, [moderate(poll, a.item_id, "approve", 5)])
    assert late.boards == []  # nothing changed
    shown = await record_qa(
        db, [moderate(poll, b.item_id, "approve", 8), moderate(poll, b.item_id, "pin", 9)]
    )
    board = shown.boards[0]
    assert [(i.id, i.status, i.pinned) for i in board.items] == [(b.item_id, "approved", True)]
    done = await record_qa(db, [moderate(poll, b.item_id, "answered", 10)])
    assert done.boards[0].items[0].status == "answered"
    assert done.boards[0].version > board.version


async def test_actions_for_a_poll_without_a_board_are_rejected(db: asyncpg.Connection) -> None:
    poll = await create_poll(db)
    result = await record_qa(db, [asked(poll, uuid.uuid4())])
    assert [r.reason for r in result.rejected] == ["qa_disabled"]
    assert await db.fetchval("SELECT count(*) FROM qa_items WHERE poll_id = $1", poll) == 0


async def test_a_board_redis_lacks_is_restored_from_postgres(
    db: asyncpg.Connection, resources: Resources
) -> None:
    """A commit whose Redis write never happened (a crash, a Redis loss) is repaired by the
    worker's loop: the board is rewritten at its stored version, then left alone."""
    poll = await qa_poll(db)
    question = asked(poll, uuid.uuid4(), "Restored?")
    await record_qa(db, [question])  # committed; nothing written to Redis
    keys = RedisKeys(resources.redis_prefix)
    redis = aioredis.from_url(resources.redis_url)
    pool = await asyncpg.create_pool(resources.database_url, min_size=1, max_size=2)
    connection = await connect(resources.amqp_url, name="test-qa-restore")
    try:
        channel = await connection.channel()
        await declare_topology(channel)
        outbound = Outbound(ConfirmedPublisher(connection, timeout=10))
        flusher = QaFlusher(pool, QaBoardCache(redis, keys, 600), outbound, window_s=3600)
        assert await redis.hget(keys.qa_board(poll), "body") is None
        await flusher.restore_boards()
        body = await redis.hget(keys.qa_board(poll), "body")
        board = QaBoardUpdated.model_validate_json(body)
        assert board.version == 1 and [i.id for i in board.items] == [question.item_id]
        await flusher.restore_boards()  # up to date: nothing to do
        assert int(await redis.hget(keys.qa_board(poll), "version")) == 1
    finally:
        await connection.close()
        await pool.close()
        await redis.aclose()
