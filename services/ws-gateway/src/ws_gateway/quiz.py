"""Quiz scores to the screens: one `leaderboard` for the room, each participant's `quiz_result`.

After scoring a closed quiz question (docs/quiz.md) vote-worker writes each participant's result
into the Redis hash `quiz_results` (participant id -> JSON `{qid, correct, points, bonus,
streak, score, rank, version}`) and the `QuizScored` body into the string `leaderboard`, then
publishes `QuizScored` on `poll.<id>.quiz`. Per poll the newest `version` wins: an older or
repeated one is dropped, and versions that arrive while one is being sent are coalesced (only
the newest is sent next).

For a `QuizScored` every socket of the room gets one `leaderboard` frame, encoded once. Then the
results of the participants connected here are read with HMGET in chunks (all in one
pipeline) and sent chunk by chunk, yielding to the event loop between chunks and counted
against the tally frame budget, so 10,000 results never hold up votes and joins.

Invariant 6: a quiz's correct options (`leaderboard.correct_options`, and `quiz_result.correct`,
which tells them) go out only when the question they are about is closed in its scored epoch;
else the leaderboard goes without them (and without counts) and no `quiz_result` is sent.
Counts are also held back while the poll hides results until a reveal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any
from uuid import UUID

import orjson
import redis.asyncio as aioredis
from pydantic import ValidationError
from redis.exceptions import RedisError
from websockets.asyncio.server import ServerConnection

from contracts import QuizScored
from contracts.frames import LeaderboardFrame, LeaderboardRowView, QuizResultFrame
from contracts.polls import PollStatus, QuestionState
from ws_gateway.fanout import Fanout
from ws_gateway.rooms import PollEntry, RoomDirectory
from ws_gateway.wire import fan_out, send, send_each
from zephyr_runtime.keys import RedisKeys
from zephyr_runtime.tasks import cancel_all

log = logging.getLogger(__name__)

LEADERBOARD_TOP = 10  # rows a `leaderboard` frame carries (QuizScored has up to 100)
RESULT_CHUNK = 1000  # participants per HMGET, and per burst of `quiz_result` frames
RESULT_FIELDS = ("correct", "points", "bonus", "streak", "score", "rank", "version")


def released(entry: PollEntry, qid: int, epoch: int | None = None) -> QuestionState | None:
    """Quiz question `qid` when its correct options may be shown (it is closed, in `epoch` if
    given), else None: still open, reset (draft again), or not in the view."""
    question = entry.by_qid(qid)
    if question is None or question.kind != "quiz" or question.status is not PollStatus.CLOSED:
        return None
    if epoch is not None and question.epoch != epoch:
        return None
    return question


def has_quiz(entry: PollEntry) -> bool:
    return any(q.kind == "quiz" for q in entry.view.questions)


def leaderboard_frame(entry: PollEntry, scored: QuizScored) -> LeaderboardFrame | None:
    """The `leaderboard` frame of `scored` in this view; None when its question is not in it."""
    question = entry.by_qid(scored.qid)
    if question is None:
        return None
    shown = released(entry, scored.qid, scored.epoch) is not None
    return LeaderboardFrame(
        question=question.index,
        qid=scored.qid,
        correct_options=list(scored.correct_options) if shown else [],
        counts=list(scored.counts) if shown and not entry.results_hidden(question) else [],
        top=[
            LeaderboardRowView(rank=row.rank, nickname=row.nickname, score=row.score)
            for row in scored.top[:LEADERBOARD_TOP]
        ],
        participants=scored.participants,
        version=scored.version,
    )


def parse_leaderboard(raw: str | bytes | None) -> QuizScored | None:
    """The `leaderboard` string (a `QuizScored` body); None if absent or unreadable."""
    if not raw:
        return None
    try:
        return QuizScored.model_validate_json(raw)
    except ValidationError:
        log.warning("unreadable leaderboard in redis")
        return None


def result_frame(
    entry: PollEntry, raw: str | bytes | None, min_version: int = 0
) -> QuizResultFrame | None:
    """A participant's entry of the `quiz_results` hash as their `quiz_result`, its qid mapped
    to the question's index; None when absent, unreadable, older than `min_version` (not of
    this scoring) or about a question that is not closed (invariant 6)."""
    if not raw:
        return None
    try:
        data: Any = orjson.loads(raw)
        if not isinstance(data, dict):
            raise TypeError("not an object")
        question = released(entry, int(data["qid"]))
        if question is None or int(data.get("version", 0)) < min_version:
            return None
        return QuizResultFrame(
            question=question.index,
            qid=question.qid,
            **{name: data[name] for name in RESULT_FIELDS if name in data},
        )
    except (KeyError, ValueError, TypeError, orjson.JSONDecodeError):  # ValidationError too
        log.warning("unreadable quiz result in redis", extra={"poll_id": str(entry.view.id)})
        return None


class QuizFanout:
    """Per poll: the last `QuizScored` version sent, its leaderboard, and at most one sender."""

    def __init__(
        self, rooms: RoomDirectory, fanout: Fanout, redis: aioredis.Redis, keys: RedisKeys
    ) -> None:
        self._rooms, self._fanout = rooms, fanout
        self._redis, self._keys = redis, keys
        self.chunk_size = RESULT_CHUNK
        self._sent: dict[UUID, int] = {}  # poll id -> version of the last QuizScored taken
        self._boards: dict[UUID, LeaderboardFrame] = {}  # poll id -> the last leaderboard sent
        self._pending: dict[UUID, QuizScored] = {}  # newer than sent, waiting for the sender
        self._senders: dict[UUID, asyncio.Task[None]] = {}
        self._score_watchers: list[Callable[[QuizScored], None]] = []
        fanout.when_empty(self.forget)

    def last_version(self, poll_id: UUID) -> int:
        return self._sent.get(poll_id, -1)

    def offer(self, scored: QuizScored) -> bool:
        """Send `scored` if it is newer than what was sent (or is waiting); True when taken."""
        poll_id = scored.poll_id
        for watch in self._score_watchers:
            watch(scored)  # host connections, whoever else is here
        if not self._fanout.members(poll_id):
            return False
        waiting = self._pending.get(poll_id)
        newest = max(self.last_version(poll_id), waiting.version if waiting else -1)
        if scored.version <= newest:
            return False
        self._pending[poll_id] = scored
        if poll_id not in self._senders:
            self._senders[poll_id] = asyncio.create_task(self._drain(poll_id), name="quiz-fanout")
        return True

    def watch_scores(self, watch: Callable[[QuizScored], None]) -> None:
        """Call `watch(scored)` with every leaderboard offered."""
        self._score_watchers.append(watch)

    async def load(self, poll_id: UUID) -> None:
        """Offer the leaderboard Redis holds (after a broker reconnect: a message may be lost)."""
        scored = parse_leaderboard(await self._redis.get(self._keys.leaderboard(poll_id)))
        if scored is not None and scored.poll_id == poll_id:
            self.offer(scored)

    def forget(self, poll_id: UUID) -> None:
        self._sent.pop(poll_id, None)
        self._boards.pop(poll_id, None)
        self._pending.pop(poll_id, None)

    async def close(self) -> None:
        await cancel_all(list(self._senders.values()))

    async def _drain(self, poll_id: UUID) -> None:
        try:
            while (scored := self._pending.pop(poll_id, None)) is not None:
                try:
                    await self._send(scored)
                except RedisError as exc:  # the leaderboard went out; results come at a resume
                    log.warning(
                        "quiz results not read", extra={"poll_id": str(poll_id), "error": repr(exc)}
                    )
                except Exception:
                    log.exception("quiz fan-out failed", extra={"poll_id": str(poll_id)})
        finally:
            self._senders.pop(poll_id, None)

    async def _send(self, scored: QuizScored) -> None:
        poll_id = scored.poll_id
        self._sent[poll_id] = scored.version
        entry = self._rooms.get(poll_id)
        if entry is None:
            return
        # The view may lag either way: poll-api writes Redis before a change is published (the
        # close the worker scored, or a reset and reopen since). Redis says what holds now;
        # one HGET per scoring, and the whole state only when it is newer.
        try:
            entry = await self._rooms.read_fresher(poll_id, entry.state_version) or entry
        except RedisError as exc:
            log.warning("poll state not read", extra={"error": repr(exc)})
        board = leaderboard_frame(entry, scored)
        if board is None:
            log.warning(
                "quiz scored for a question not in the view",
                extra={"poll_id": str(poll_id), "qid": scored.qid},
            )
            return
        self._boards[poll_id] = board
        self._fanout.spend(fan_out(self._fanout.members(poll_id), board))
        if released(entry, scored.qid, scored.epoch) is not None:
            await self._send_results(entry, scored.version)

    async def _send_results(self, entry: PollEntry, version: int) -> None:
        """Each connected participant's own result, HMGET in chunks, sent chunk by chunk."""
        poll_id = entry.view.id
        members = self._fanout.participants(poll_id)
        if not members:
            return
        size = self.chunk_size
        chunks = [members[start : start + size] for start in range(0, len(members), size)]
        key = self._keys.quiz_results(poll_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            for chunk in chunks:
                pipe.hmget(key, [str(participant_id) for _, participant_id in chunk])
            replies = await pipe.execute()
        for chunk, raws in zip(chunks, replies, strict=True):
            frames: list[tuple[ServerConnection, QuizResultFrame]] = []
            for (ws, _), raw in zip(chunk, raws, strict=True):
                frame = result_frame(entry, raw, version)
                if frame is not None:
                    frames.append((ws, frame))
            self._fanout.spend(send_each(frames))
            await asyncio.sleep(0)  # let votes, joins and tallies run between chunks

    async def catch_up(
        self, ws: ServerConnection, participant_id: UUID, poll_id: UUID, seen: int
    ) -> None:
        """A socket that joined while a newer leaderboard than its `joined` one (`seen`) went
        out, before it was in the room: send that leaderboard and the participant's result."""
        board = self._boards.get(poll_id)
        if board is None or self.last_version(poll_id) <= seen or board.version <= seen:
            return
        await send(ws, board)
        entry = self._rooms.get(poll_id)
        if entry is None or not board.correct_options or released(entry, board.qid) is None:
            return
        try:
            raw = await self._redis.hget(self._keys.quiz_results(poll_id), str(participant_id))
        except RedisError as exc:  # they are in the room: a resume brings the result
            log.warning("quiz result not read", extra={"error": repr(exc)})
            return
        frame = result_frame(entry, raw, board.version)
        if frame is not None:
            await send(ws, frame)
