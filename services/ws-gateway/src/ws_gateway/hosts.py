"""Host connections of this process: what they are pushed, and the presence heartbeat.

A host socket (`host_session`) is kept here per poll, never in `Fanout`'s audience: it never
counts as a participant and never gets a participant's frame. It hears the same live messages
(the host holds a live binding of its poll, like a participant): each tally `Fanout` keeps, each
state change it announces, each Q&A board `QaDesk` is offered. Tallies go to hosts for every
question, hidden results too (the host may see them before the reveal); boards and tallies are
coalesced (`host_push_interval_ms`, latest wins). Every `presence_interval_ms` the heartbeat
writes this process's participant counts (`presence`) and each poll with a host here gets a
`presence` frame when its figures changed.
"""

from __future__ import annotations

import asyncio
import logging
from uuid import UUID

import redis.asyncio as aioredis
from websockets.asyncio.server import ServerConnection

from contracts import QaBoardUpdated, QuizScored, TallyUpdated
from contracts.host import ChangedFrame, HostReadyFrame, PresenceFrame
from contracts.polls import QuestionState
from ws_gateway.fanout import Fanout, poll_state_frame
from ws_gateway.presence import Presence
from ws_gateway.qa import QaDesk
from ws_gateway.quiz import QuizFanout
from ws_gateway.rooms import PollEntry, RoomDirectory
from ws_gateway.settings import Settings
from ws_gateway.tallies import parse_tally_hash, tally_frame, zero_frame
from ws_gateway.wire import fan_out, send
from zephyr_runtime.keys import RedisKeys
from zephyr_runtime.tasks import cancel_and_wait

log = logging.getLogger(__name__)


def _newer(candidate: TallyUpdated, current: TallyUpdated | None) -> bool:
    return current is None or (candidate.epoch, candidate.version) > (
        current.epoch,
        current.version,
    )


class HostDesk:
    def __init__(
        self,
        settings: Settings,
        redis: aioredis.Redis,
        keys: RedisKeys,
        rooms: RoomDirectory,
        fanout: Fanout,
        qa: QaDesk,
        quiz: QuizFanout,
        presence: Presence,
    ) -> None:
        self._s = settings
        self._redis, self._keys = redis, keys
        self._rooms, self._fanout, self._qa, self.presence = rooms, fanout, qa, presence
        self._hosts: dict[UUID, set[ServerConnection]] = {}
        self._tallies: dict[UUID, dict[int, TallyUpdated]] = {}  # poll -> qid -> latest
        self._dirty: set[tuple[UUID, int]] = set()
        self._boards: dict[UUID, QaBoardUpdated] = {}
        self._dirty_boards: set[UUID] = set()
        self._sent: dict[UUID, PresenceFrame] = {}
        self._scored: dict[UUID, int] = {}  # poll -> newest leaderboard version told
        self._dirty_scores: set[UUID] = set()
        self._pending = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        quiz.watch_scores(self.offer_scored)
        fanout.watch_tallies(self.offer_tally)
        fanout.watch_states(self.on_state)
        qa.watch_boards(self.offer_board)

    # ---- who is here -----------------------------------------------------------------------

    def hosts(self, poll_id: UUID) -> set[ServerConnection]:
        return self._hosts.get(poll_id, set())

    def add(self, poll_id: UUID, ws: ServerConnection) -> None:
        self._hosts.setdefault(poll_id, set()).add(ws)

    def remove(self, poll_id: UUID, ws: ServerConnection) -> None:
        hosts = self._hosts.get(poll_id)
        if hosts is None:
            return
        hosts.discard(ws)
        if not hosts:
            del self._hosts[poll_id]
            self._tallies.pop(poll_id, None)
            self._boards.pop(poll_id, None)
            self._sent.pop(poll_id, None)
            self._scored.pop(poll_id, None)
            self._dirty_scores.discard(poll_id)
            self._dirty_boards.discard(poll_id)
            self._dirty = {key for key in self._dirty if key[0] != poll_id}

    async def welcome(self, ws: ServerConnection, entry: PollEntry) -> None:
        """Everything a console draws, as of now: state, every tally, the board, presence."""
        view = entry.view
        poll_id = view.id
        await send(ws, HostReadyFrame(poll_id=poll_id, room_code=view.room_code))
        for question in view.questions:
            await send(ws, poll_state_frame(view, question))
        async with self._redis.pipeline(transaction=False) as pipe:
            for question in view.questions:
                pipe.hgetall(self._keys.tally(poll_id, question.qid))
            raws = await pipe.execute()
        for question, raw in zip(view.questions, raws, strict=True):
            stored = parse_tally_hash(poll_id, question.qid, raw or {})
            latest = self._tallies.setdefault(poll_id, {})
            if stored is not None and _newer(stored, latest.get(question.qid)):
                # Sent here; the other hosts heard of it from its live message.
                latest[question.qid] = stored
            tally = latest.get(question.qid)
            if tally is not None and tally.epoch == question.epoch:
                frame = tally_frame(tally, question.index)
            else:
                frame = zero_frame(question)
            if frame is not None:
                await send(ws, frame)
        board = await self._qa.board(poll_id)
        if board is not None:
            self._boards[poll_id] = board
            await send(ws, board.frame())
        await send(ws, await self.presence_frame(entry))

    # ---- what they hear --------------------------------------------------------------------

    def offer_tally(self, tally: TallyUpdated) -> None:
        if tally.poll_id not in self._hosts:
            return
        latest = self._tallies.setdefault(tally.poll_id, {})
        if _newer(tally, latest.get(tally.qid)):
            latest[tally.qid] = tally
            self._dirty.add((tally.poll_id, tally.qid))
            self._pending.set()

    def offer_board(self, board: QaBoardUpdated) -> None:
        if board.poll_id not in self._hosts:
            return
        current = self._boards.get(board.poll_id)
        if current is None or board.version > current.version:
            self._boards[board.poll_id] = board
            self._dirty_boards.add(board.poll_id)
            self._pending.set()

    def offer_scored(self, scored: QuizScored) -> None:
        if scored.poll_id not in self._hosts:
            return
        if scored.version > self._scored.get(scored.poll_id, -1):
            self._scored[scored.poll_id] = scored.version
            self._dirty_scores.add(scored.poll_id)
            self._pending.set()

    def on_state(
        self, previous: PollEntry | None, current: PollEntry, announced: list[QuestionState]
    ) -> None:
        """A state change `Fanout` announced: the same `poll_state` frames, and a reset's zero."""
        view = current.view
        hosts = self.hosts(view.id)
        if not hosts:
            return
        for question in announced:
            fan_out(hosts, poll_state_frame(view, question))
        latest = self._tallies.setdefault(view.id, {})
        for question in view.questions:
            before = previous.by_qid(question.qid) if previous is not None else None
            if before is None or before.epoch == question.epoch:
                continue
            tally = latest.get(question.qid)
            if tally is None or tally.epoch < question.epoch:
                latest.pop(question.qid, None)
                self._dirty.discard((view.id, question.qid))
                fan_out(hosts, zero_frame(question))

    def flush(self) -> None:
        """Push each changed tally and board to the hosts of its poll."""
        dirty, self._dirty = self._dirty, set()
        for poll_id, qid in dirty:
            entry = self._rooms.get(poll_id)
            question = entry.by_qid(qid) if entry is not None else None
            tally = self._tallies.get(poll_id, {}).get(qid)
            if question is None or tally is None or tally.epoch < question.epoch:
                continue
            frame = tally_frame(tally, question.index)
            if frame is None:
                continue
            hosts = self.hosts(poll_id)
            fan_out(hosts, frame)
            if question.kind == "wordcloud":
                words = ChangedFrame(what="words", question=question.index, version=tally.version)
                fan_out(hosts, words)
        boards, self._dirty_boards = self._dirty_boards, set()
        for poll_id in boards:
            board = self._boards.get(poll_id)
            if board is None:
                continue
            hosts = self.hosts(poll_id)
            fan_out(hosts, board.frame())
            fan_out(hosts, ChangedFrame(what="qa", version=board.version))
        scores, self._dirty_scores = self._dirty_scores, set()
        for poll_id in scores:
            version = self._scored.get(poll_id)
            if version is not None:
                scored = ChangedFrame(what="leaderboard", version=version)
                fan_out(self.hosts(poll_id), scored)

    # ---- presence --------------------------------------------------------------------------

    async def presence_frame(self, entry: PollEntry) -> PresenceFrame:
        question = entry.current
        qid = question.qid if question is not None else 0
        count = await self.presence.read(entry.view.id, qid)
        answers = 0
        if question is not None:
            known = self._tallies.get(entry.view.id, {}).get(qid)
            if known is not None and known.epoch == question.epoch:
                answers = known.total
            elif count.tally_epoch == question.epoch and count.tally_total is not None:
                answers = count.tally_total
        return PresenceFrame(
            connected=count.connected,
            joined=count.joined,
            answers=answers,
            question=question.index if question is not None else 0,
        )

    async def beat(self) -> None:
        """One heartbeat: write this process's counts, then push presence that changed."""
        await self.presence.publish(self._fanout.audience_sizes())
        for poll_id in list(self._hosts):
            entry = self._rooms.get(poll_id)
            if entry is None:
                continue
            frame = await self.presence_frame(entry)
            if self._sent.get(poll_id) != frame and poll_id in self._hosts:
                self._sent[poll_id] = frame
                fan_out(self.hosts(poll_id), frame)

    # ---- the loops ---------------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._push_loop(), name="host-push"),
            asyncio.create_task(self._presence_loop(), name="presence"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            await cancel_and_wait(task)
        self._tasks = []
        try:
            await self.presence.withdraw()
        except (aioredis.RedisError, OSError) as exc:
            log.warning("presence withdraw failed", extra={"error": repr(exc)})

    async def _push_loop(self) -> None:
        interval = self._s.host_push_interval_ms / 1000
        while True:
            await self._pending.wait()
            self._pending.clear()
            try:
                self.flush()
            except Exception:
                log.exception("host push failed")
            await asyncio.sleep(interval)

    async def _presence_loop(self) -> None:
        interval = self._s.presence_interval_ms / 1000
        while True:
            try:
                await self.beat()
            except (aioredis.RedisError, OSError) as exc:
                log.warning("presence heartbeat failed", extra={"error": repr(exc)})
            except Exception:
                log.exception("presence heartbeat failed")
            await asyncio.sleep(interval)
