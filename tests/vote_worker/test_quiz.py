"""Quiz scoring in the worker in this process: three quiz questions, twenty participants, answers
at known times. Each close rescores; scores, points and ranks equal an independent recomputation
in SQL (tests/vote_worker/quiz_truth.py); Redis holds every participant's result and the board;
`QuizScored` reaches `poll.<id>.quiz`. Then a late answer, a redelivered close, a reset of a
closed question and a lost Redis board, each converging again."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import redis.asyncio as aioredis
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

from contracts import AuditBatch, PollEvent, PollView, QuizScored
from contracts.topology import (
    AUDIT_EXCHANGE,
    LIVE_EXCHANGE,
    POLLS_EXCHANGE,
    VOTES_QUEUE,
    poll_event_routing_key,
    quiz_routing_key,
)
from tests.support.eventually import eventually
from tests.vote_worker import quiz_truth as truth
from tests.vote_worker.bus import publish, receive_until
from tests.vote_worker.factories import answer, batch, create_run, poll_event, set_question
from vote_worker.worker import Worker
from zephyr_runtime.keys import RedisKeys


async def listen(channel: AbstractChannel, exchange: str, binding_key: str) -> AbstractQueue:
    """A private queue that outlives each `receive_until` (gone with the connection)."""
    queue = await channel.declare_queue(exclusive=True, auto_delete=False)
    await queue.bind(await channel.get_exchange(exchange), routing_key=binding_key)
    return queue


def scored(messages: list[AbstractIncomingMessage]) -> list[QuizScored]:
    return [QuizScored.model_validate_json(m.body) for m in messages]


async def next_scored(queue: AbstractQueue, after: int = 0, qid: int | None = None) -> QuizScored:
    """The first `QuizScored` newer than version `after` (of question `qid` if given)."""

    def done(got: list[AbstractIncomingMessage]) -> bool:
        return any(s.version > after and qid in (None, s.qid) for s in scored(got))

    got = scored(await receive_until(queue, done))
    return next(s for s in got if s.version > after and qid in (None, s.qid))


async def send_event(channel: AbstractChannel, event: PollEvent) -> None:
    routing_key = poll_event_routing_key(event.event)
    await publish(channel, event, exchange=POLLS_EXCHANGE, routing_key=routing_key)


async def close(
    db: asyncpg.Connection, channel: AbstractChannel, poll: UUID, qid: int
) -> PollEvent:
    """What poll-api commits and relays when the host closes question `qid`."""
    await set_question(db, poll, qid, status="closed", closed_at=datetime.now(UTC))
    event = poll_event("closed", view(poll), qid=qid)
    await send_event(channel, event)
    return event


def view(poll: UUID) -> PollView:
    return PollView(id=poll, room_code="ABCD23", question="Capital?", status="open", epoch=0)


async def assert_converged(db: asyncpg.Connection, poll: UUID, closed: int) -> None:
    """The stored points and scores are the SQL recomputation's, for 20 participants."""
    points, scores = await truth.stored(db, poll)
    assert (len(points), len(scores)) == (20 * closed, 20)
    assert (points, scores) == await truth.expected(db, poll)


async def assert_redis(
    redis_client: aioredis.Redis, worker: Worker, db: asyncpg.Connection, poll: UUID
) -> QuizScored:
    """Eventually: Redis holds the board at Postgres's version, and every participant's result
    after the question scored last; the board is returned."""
    keys = RedisKeys(worker.settings.redis_prefix)

    async def matches() -> QuizScored:
        board = await redis_client.get(keys.leaderboard(poll))
        assert board is not None
        message = QuizScored.model_validate_json(board)
        version = await db.fetchval("SELECT version FROM quiz_boards WHERE poll_id = $1", poll)
        assert message.version == version
        hashed = await redis_client.hgetall(keys.quiz_results(poll))
        cached = {UUID(k): json.loads(v) for k, v in hashed.items()}
        rows = await db.fetch(
            "SELECT s.participant_id, s.score, s.rank, p.correct, p.points, p.bonus, p.streak"
            " FROM quiz_scores s JOIN quiz_points p USING (poll_id, participant_id)"
            " WHERE s.poll_id = $1 AND p.qid = $2",
            poll,
            message.qid,
        )
        assert len(rows) == message.participants == len(cached)
        for r in rows:
            assert cached[r["participant_id"]] == {
                "qid": message.qid, "correct": r["correct"], "points": r["points"],
                "bonus": r["bonus"], "streak": r["streak"], "score": r["score"],
                "rank": r["rank"], "version": version,
            }  # fmt: skip
        return message

    result: QuizScored = await eventually(matches)
    return result


async def test_a_quiz_is_scored_at_each_close_and_converges_after_every_change(
    worker: Worker, channel: AbstractChannel, db: asyncpg.Connection, redis_client
) -> None:
    poll = await create_run(db, truth.QUIZ)
    quiz = await listen(channel, LIVE_EXCHANGE, quiz_routing_key(poll))
    audit = await listen(channel, AUDIT_EXCHANGE, "#")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    opened = {qid: start + timedelta(minutes=n) for n, qid in enumerate(truth.PLAY_ORDER)}
    for qid, at in opened.items():
        await set_question(db, poll, qid, opened_at=at)
    people = truth.participants(20)
    for pid, nickname in people:
        await db.execute(
            "INSERT INTO participants VALUES ($1, $2, $3, now(), now())", poll, pid, nickname
        )
    plan = truth.answers_of(len(people))
    votes = truth.votes_for(poll, people, plan, opened)
    await publish(channel, batch(*votes), routing_key=VOTES_QUEUE)
    count = "SELECT count(*) FROM votes WHERE poll_id = $1"
    await eventually(lambda: _equals(db.fetchval(count, poll), len(votes)))

    # Each close scores what has closed so far, in the order played.
    version = 0
    closes = {}
    for qid in truth.PLAY_ORDER:
        closes[qid] = await close(db, channel, poll, qid)
        message = await next_scored(quiz, version, qid)
        assert message.version > version
        version = message.version
        await assert_converged(db, poll, len(closes))
    assert message.qid == 1 and message.correct_options == [0, 2]
    counts = [0, 0, 0, 0]
    for mine in plan:
        for option in mine.get(1, ([], 0))[0]:
            counts[option] += 1
    assert message.counts == counts and message.participants == 20
    assert [e.score for e in message.top] == sorted((e.score for e in message.top), reverse=True)
    ranks = dict(await _ranks(db, poll))
    first, second, third, fourth = (ranks[people[i][0]] for i in (0, 1, 2, 3))
    assert first == second and first + 1 not in ranks.values()  # an equal tie shares its rank
    assert third < fourth < ranks[people[4][0]]  # the same score: less time ranks first
    assert ranks[people[9][0]] == ranks[people[10][0]]  # nothing answered: tied
    await assert_redis(redis_client, worker, db, poll)
    events = await _quiz_events(audit, lambda e: e.data["version"] == version)
    event = next(e for e in events if e.data["version"] == version)
    assert (event.poll_id, event.data) == (poll, {"qid": 1, "version": version, "participants": 20})

    # A late answer (accepted before the close, stored after it) counts and rescores.
    before = await db.fetchval(
        "SELECT score FROM quiz_scores WHERE poll_id = $1 AND participant_id = $2",
        poll,
        people[2][0],
    )
    late = answer(poll, people[2][0], 1, {"kind": "quiz", "options": [0, 2]}, seq=9)
    late = late.model_copy(update={"cast_at": opened[1] + timedelta(seconds=4)})
    await publish(channel, batch(late), routing_key=VOTES_QUEUE)
    message = await next_scored(quiz, version)
    version = message.version
    await assert_converged(db, poll, 3)
    after = await db.fetchval(
        "SELECT score FROM quiz_scores WHERE poll_id = $1 AND participant_id = $2",
        poll,
        people[2][0],
    )
    assert after == before + 1600  # 2000 x (1 - 4/10/2), no streak (question 2 unanswered)
    await assert_redis(redis_client, worker, db, poll)

    # A redelivered close changes nothing but the version.
    rows = await truth.stored(db, poll)
    await send_event(channel, closes[1])
    message = await next_scored(quiz, version)
    assert await truth.stored(db, poll) == rows
    version = message.version

    # A reset of a closed quiz question removes its points.
    await set_question(db, poll, 2, status="draft", epoch=1, opened_at=None, closed_at=None)
    await send_event(channel, poll_event("reset", view(poll), qid=2))
    message = await next_scored(quiz, version)
    version = message.version
    left = "SELECT count(*) FROM quiz_points WHERE poll_id = $1 AND qid = $2"
    assert (await db.fetchval(left, poll, 2), await db.fetchval(left, poll, 0)) == (0, 20)
    await assert_converged(db, poll, 2)
    await assert_redis(redis_client, worker, db, poll)

    # Redis loses the board: the reconciler rescores the poll.
    await redis_client.delete(RedisKeys(worker.settings.redis_prefix).leaderboard(poll))
    message = await next_scored(quiz, version)
    assert (await assert_redis(redis_client, worker, db, poll)).version >= message.version
    await assert_converged(db, poll, 2)


async def _equals(value, expected: object) -> bool:
    return await value == expected


async def _ranks(db: asyncpg.Connection, poll: UUID) -> list[tuple[UUID, int]]:
    rows = await db.fetch("SELECT participant_id, rank FROM quiz_scores WHERE poll_id = $1", poll)
    return [(r["participant_id"], r["rank"]) for r in rows]


async def _quiz_events(queue: AbstractQueue, wanted) -> list:
    def found(got: list[AbstractIncomingMessage]) -> list:
        return [
            e
            for m in got
            for e in AuditBatch.model_validate_json(m.body).events
            if e.kind == "quiz.scored"
        ]

    got = await receive_until(queue, lambda got: any(wanted(e) for e in found(got)))
    return found(got)
