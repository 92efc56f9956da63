"""Quiz mode on the screens (docs/quiz.md): after a quiz question closes each participant gets
their own `quiz_result` and every socket one `leaderboard`; `joined` carries both; the correct
options never reach a participant before the question closes (invariant 6).

vote-worker's side is stood in for: the tests write its Redis entries and publish `QuizScored`
on `zephyr.live` themselves, as the worker does after scoring.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any
from uuid import UUID

import orjson
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection

from contracts import PollStateChanged, QuizScored, TallyUpdated
from contracts.live import LeaderboardEntry
from contracts.polls import PollStatus, PollView
from contracts.topology import quiz_routing_key, state_routing_key, tally_routing_key
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
    run_view,
    seed_poll,
    write_state,
    write_tally,
)
from ws_gateway.app import Gateway
from ws_gateway.quiz import leaderboard_frame, parse_leaderboard
from ws_gateway.quiz import result_frame as result_frame_of
from ws_gateway.rooms import make_entry
from zephyr_runtime.keys import RedisKeys

SINGLE = {"kind": "single", "prompt": "Warm-up?", "options": ["yes", "no"]}
QUIZ = {
    "kind": "quiz",
    "prompt": "2 + 2?",
    "options": ["3", "4", "5"],
    "time_limit_s": 30,
    "points": 1000,
    "multiple": False,
}
QID = 4  # the quiz question's qid; its index in the run is 1
CORRECT = [1]
COUNTS = [2, 5, 1]


def scored(view: PollView, version: int, *, epoch: int = 0, rows: int = 12) -> QuizScored:
    """What vote-worker publishes after scoring the close of question qid 4."""
    top = [LeaderboardEntry(rank=n + 1, nickname=f"p{n}", score=2000 - 10 * n) for n in range(rows)]
    return QuizScored(
        poll_id=view.id,
        qid=QID,
        epoch=epoch,
        correct_options=CORRECT,
        counts=COUNTS,
        top=top,
        participants=rows,
        version=version,
    )


def board_frame(message: QuizScored, *, released: bool = True) -> dict[str, Any]:
    """The `leaderboard` frame the gateway sends for `message` (question 4 is at index 1)."""
    return {
        "type": "leaderboard",
        "question": 1,
        "qid": QID,
        "correct_options": CORRECT if released else [],
        "counts": COUNTS if released else [],
        "top": [row.model_dump() for row in message.top[:10]],
        "participants": message.participants,
        "version": message.version,
    }


def result(score: int, rank: int, version: int, *, qid: int = QID) -> dict[str, Any]:
    """One participant's entry of the `quiz_results` hash, as the worker writes it."""
    return {
        "qid": qid,
        "correct": True,
        "points": score - 100,
        "bonus": 100,
        "streak": 2,
        "score": score,
        "rank": rank,
        "version": version,
    }


def result_frame(entry: dict[str, Any], question: int = 1) -> dict[str, Any]:
    return {"type": "quiz_result", "question": question, **entry}


async def write_results(
    redis: aioredis.Redis, keys: RedisKeys, poll_id: UUID, entries: dict[UUID, dict[str, Any]]
) -> None:
    await redis.hset(
        keys.quiz_results(poll_id),
        mapping={str(pid): orjson.dumps(entry).decode() for pid, entry in entries.items()},
    )


async def write_board(redis: aioredis.Redis, keys: RedisKeys, message: QuizScored) -> None:
    await redis.set(keys.leaderboard(message.poll_id), message.model_dump_json())


async def seed_quiz(
    redis: aioredis.Redis,
    keys: RedisKeys,
    *,
    status: PollStatus = PollStatus.CLOSED,
    epoch: int = 0,
) -> PollView:
    """A warm-up single choice (qid 0), then the quiz (qid 4, index 1), the current question."""
    questions = [
        question(0, SINGLE, status=PollStatus.CLOSED),
        question(QID, QUIZ, index=1, status=status, epoch=epoch),
    ]
    view, _ = await seed_poll(redis, keys, questions=questions, current=1)
    return view


async def assert_quiet(ws: ClientConnection) -> None:
    """Nothing else is on its way: the next frame is the answer to a ping."""
    assert (await request(ws, {"type": "ping"}))["type"] == "pong"


async def test_each_participant_gets_their_own_result_and_every_socket_one_leaderboard(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view = await seed_quiz(redis_client, keys)
    gateway.context.quiz.chunk_size = 2  # five participants: three HMGET chunks
    names = ["Ann", "Bob", "Cid", "Dan", "Eve"]
    async with live_publisher(resources) as publish, contextlib.AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(client(gateway, view.room_code)) for _ in names]
        joined = [await join(ws, name) for ws, name in zip(sockets, names, strict=True)]
        pids = [UUID(j["participant_id"]) for j in joined]
        assert all(j["quiz_result"] is None and j["leaderboard"] is None for j in joined)
        # Ann also on a second socket (resumed); Eve joined after the scoring: no entry.
        ann_again = await stack.enter_async_context(client(gateway, view.room_code))
        sockets.append(ann_again)
        await join(ann_again, "x", resume_token=joined[0]["resume_token"])
        owners = [*pids, pids[0]]
        entries = {pid: result(1500 - 100 * n, n + 1, 3) for n, pid in enumerate(pids[:4])}
        entries[uuid.uuid4()] = result(50, 9, 3)  # a participant connected elsewhere
        await write_results(redis_client, keys, view.id, entries)
        message = scored(view, 3)
        await write_board(redis_client, keys, message)
        await publish(message, quiz_routing_key(view.id))

        for ws, owner in zip(sockets, owners, strict=True):
            board, skipped = await recv_until(ws, "leaderboard")
            assert skipped == []
            assert board == board_frame(message)
            if owner in entries:
                assert await recv(ws) == result_frame(entries[owner])
            await assert_quiet(ws)  # one leaderboard, one result, nobody else's

        # An older version and a repeated one are dropped; the next newer one goes out.
        await publish(scored(view, 2), quiz_routing_key(view.id))
        await publish(message, quiz_routing_key(view.id))
        newer = scored(view, 4, rows=3)
        entries = {pid: result(1600 - n, n + 1, 4) for n, pid in enumerate(pids)}
        await write_results(redis_client, keys, view.id, entries)
        await publish(newer, quiz_routing_key(view.id))
        for ws, owner in zip(sockets, owners, strict=True):
            assert await recv(ws) == board_frame(newer)
            assert await recv(ws) == result_frame(entries[owner])
            await assert_quiet(ws)


async def test_a_resume_gets_its_quiz_result_and_the_leaderboard_in_joined(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    view = await seed_quiz(redis_client, keys)
    async with client(gateway, view.room_code) as ws:
        first = await join(ws, "Ann")
    ann = UUID(first["participant_id"])
    message = scored(view, 7)
    await write_results(redis_client, keys, view.id, {ann: result(1800, 2, 7)})
    await write_board(redis_client, keys, message)

    async with client(gateway, view.room_code) as ws, client(gateway, view.room_code) as other:
        again = await join(ws, "x", resume_token=first["resume_token"])
        newcomer = await join(other, "Bob")
    assert again["participant_id"] == str(ann)
    assert again["quiz_result"] == result_frame(result(1800, 2, 7))
    assert again["leaderboard"] == board_frame(message)
    assert len(again["leaderboard"]["top"]) == 10
    # Someone who joins later sees the leaderboard; they have no result of their own.
    assert newcomer["quiz_result"] is None
    assert newcomer["leaderboard"] == board_frame(message)


async def test_a_join_while_a_newer_leaderboard_goes_out_catches_up(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view = await seed_quiz(redis_client, keys)
    old = scored(view, 1)
    await write_board(redis_client, keys, old)
    async with client(gateway, view.room_code) as a, live_publisher(resources) as publish:
        await join(a, "Ann")
        async with client(gateway, view.room_code) as b:
            bob = await join(b, "Bob")
        # Version 2 reaches the room while Redis still holds version 1 for a joiner to read:
        # the joiner's `joined` is older than what the room has seen.
        newer = scored(view, 2)
        await publish(newer, quiz_routing_key(view.id))
        assert (await recv_until(a, "leaderboard"))[0] == board_frame(newer)
        await eventually(lambda: gateway.context.quiz.last_version(view.id) == 2)
        entry = result(900, 3, 2)
        await write_results(redis_client, keys, view.id, {UUID(bob["participant_id"]): entry})
        async with client(gateway, view.room_code) as b:
            again = await join(b, "x", resume_token=bob["resume_token"])
            assert again["leaderboard"] == board_frame(old)
            assert await recv(b) == board_frame(newer)  # the catch-up
            assert await recv(b) == result_frame(entry)
            await assert_quiet(b)


async def test_no_frame_holds_the_correct_options_before_the_question_closes(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    # The quiz was played, reset (epoch 1) and is open again: Redis still holds the scoring of
    # epoch 0 with its correct options, and the worker may publish a rescoring of it.
    view = await seed_quiz(redis_client, keys, status=PollStatus.OPEN, epoch=1)
    async with client(gateway, view.room_code) as ws:
        first = await join(ws, "Ann")
    ann = UUID(first["participant_id"])
    await write_results(redis_client, keys, view.id, {ann: result(1800, 1, 5)})
    await write_board(redis_client, keys, scored(view, 5))
    await write_tally(
        redis_client, keys, view.id, [0, 3, 0], epoch=1, version=2, qid=QID, kind="quiz"
    )
    fanout = gateway.context.fanout
    before_close: list[dict[str, Any]] = []
    async with client(gateway, view.room_code) as ws, live_publisher(resources) as publish:
        before_close.append(await join(ws, "x", resume_token=first["resume_token"]))
        await publish(scored(view, 6), quiz_routing_key(view.id))  # a rescoring of epoch 0
        before_close.append((await recv_until(ws, "leaderboard"))[0])
        await publish(
            TallyUpdated(
                poll_id=view.id, qid=QID, kind="quiz", epoch=1, counts=[0, 4, 0], total=4,
                version=3,
            ),
            tally_routing_key(view.id),
        )  # fmt: skip
        await eventually(lambda: getattr(fanout.latest_tally(view.id, QID), "version", 0) == 3)
        fanout.flush()
        before_close.append(await request(ws, {"type": "vote", "option": 1}))
        before_close.append(await request(ws, {"type": "ping"}))
        assert [f["type"] for f in before_close] == [
            "joined",
            "leaderboard",
            "vote_accepted",
            "pong",
        ]
        assert not holds_correct_options(before_close), before_close
        joined = before_close[0]
        assert joined["quiz_result"] is None
        assert joined["leaderboard"] == board_frame(scored(view, 5), released=False)
        assert before_close[1] == board_frame(scored(view, 6), released=False)
        assert joined["tally"] is None

        # The close (epoch 1), then its scoring: now the correct options and the result go out.
        closed = changed(view, QID, status=PollStatus.CLOSED, epoch=1)
        await write_state(redis_client, keys, closed, 2)
        await publish(
            PollStateChanged(poll=closed, state_version=2, qid=QID), state_routing_key(view.id)
        )
        await write_results(redis_client, keys, view.id, {ann: result(1900, 1, 7)})
        message = scored(view, 7, epoch=1)
        await publish(message, quiz_routing_key(view.id))
        board, _ = await recv_until(ws, "leaderboard")
        assert board == board_frame(message)
        assert await recv(ws) == result_frame(result(1900, 1, 7))


async def test_a_close_the_view_has_not_heard_of_yet_is_read_from_redis(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view = await seed_quiz(redis_client, keys, status=PollStatus.OPEN)
    async with client(gateway, view.room_code) as ws, live_publisher(resources) as publish:
        ann = UUID((await join(ws, "Ann"))["participant_id"])
        # poll-api wrote the close to Redis; its PollStateChanged has not reached us.
        await write_state(redis_client, keys, changed(view, QID, status=PollStatus.CLOSED), 2)
        await write_results(redis_client, keys, view.id, {ann: result(1000, 1, 1)})
        message = scored(view, 1)
        await publish(message, quiz_routing_key(view.id))
        assert await recv(ws) == board_frame(message)
        assert await recv(ws) == result_frame(result(1000, 1, 1))


async def test_a_reopen_the_view_has_not_heard_of_yet_keeps_the_correct_options_back(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view = await seed_quiz(redis_client, keys)  # closed, as this gateway last heard
    async with client(gateway, view.room_code) as ws, live_publisher(resources) as publish:
        ann = UUID((await join(ws, "Ann"))["participant_id"])
        # Reset and opened again (epoch 1) in Redis; the scoring of epoch 0 comes first.
        reopened = changed(view, QID, status=PollStatus.OPEN, epoch=1)
        await write_state(redis_client, keys, reopened, 3)
        await write_results(redis_client, keys, view.id, {ann: result(1000, 1, 1)})
        message = scored(view, 1)
        await publish(message, quiz_routing_key(view.id))
        board = await recv(ws)
        assert board == board_frame(message, released=False)
        await assert_quiet(ws)  # and no quiz_result: it would tell whether 4 was right


def holds_correct_options(frames: Any) -> bool:
    """Whether any frame, at any depth, names correct options or says an answer was correct."""
    if isinstance(frames, dict):
        for key, value in frames.items():
            if key in {"correct", "correct_options"} and value:
                return True
            if holds_correct_options(value):
                return True
        return False
    if isinstance(frames, list):
        return any(holds_correct_options(item) for item in frames)
    return False


def test_counts_wait_for_the_reveal_when_the_poll_hides_results() -> None:
    questions = [
        question(0, SINGLE, status=PollStatus.CLOSED),
        question(QID, QUIZ, index=1, status=PollStatus.CLOSED),
    ]
    hidden = make_entry(run_view(questions, current=1, hide_results_until_reveal=True), 1)
    message = scored(hidden.view, 1)
    frame = leaderboard_frame(hidden, message)
    assert frame is not None
    assert (frame.correct_options, frame.counts) == (CORRECT, [])  # closed: the answer is out
    revealed = make_entry(changed(hidden.view, QID, revealed=True), 2)
    assert getattr(leaderboard_frame(revealed, message), "counts", None) == COUNTS


def test_unreadable_quiz_entries_in_redis_are_skipped() -> None:
    questions = [question(QID, QUIZ, status=PollStatus.CLOSED)]
    entry = make_entry(run_view(questions), 1)
    good = orjson.dumps(result(700, 2, 3)).decode()
    assert result_frame_of(entry, good) is not None
    for raw in ["", "not json", "[1]", '{"qid": 4}', '{"qid": "x", "rank": 1}',
                orjson.dumps({**result(700, 2, 3), "rank": 0}).decode(),
                orjson.dumps(result(700, 2, 3, qid=9)).decode()]:  # fmt: skip
        assert result_frame_of(entry, raw) is None, raw
    assert result_frame_of(entry, good, min_version=4) is None  # of an older scoring
    assert parse_leaderboard("{}") is None
    assert parse_leaderboard(scored(entry.view, 1).model_dump_json()) == scored(entry.view, 1)


async def test_a_quiz_tally_that_overtakes_the_opening_is_not_sent(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    """The quiz is a draft as this gateway last heard; a tally of it with counts comes before
    the state message that opens it (the tally's path is faster): the counts of an open quiz
    must not go out (invariant 6). The close then sends them."""
    view = await seed_quiz(redis_client, keys, status=PollStatus.DRAFT)
    fanout = gateway.context.fanout
    async with client(gateway, view.room_code) as ws, live_publisher(resources) as publish:
        await join(ws, "Ann")
        tally = TallyUpdated(
            poll_id=view.id, qid=QID, kind="quiz", epoch=0, counts=COUNTS, total=8, version=2
        )
        await publish(tally, tally_routing_key(view.id))
        await eventually(lambda: getattr(fanout.latest_tally(view.id, QID), "version", 0) == 2)
        fanout.flush()
        await assert_quiet(ws)

        closed = changed(view, QID, status=PollStatus.CLOSED)
        await write_state(redis_client, keys, closed, 2)
        await publish(
            PollStateChanged(poll=closed, state_version=2, qid=QID), state_routing_key(view.id)
        )
        frame, _ = await recv_until(ws, "tally")
        assert (frame["qid"], frame["counts"]) == (QID, COUNTS)
