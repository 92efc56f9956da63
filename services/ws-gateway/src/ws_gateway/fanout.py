"""Who watches which poll, and what they are sent: coalesced tallies and poll state changes.

Tally messages only replace the latest tally per question (poll, qid); a flusher broadcasts each
changed question's latest tally at most every `tally_interval_ms`, so screens never get one
frame per vote. The flusher sleeps until something changed: the first tally after a quiet spell
goes out at once (leading edge), and only what follows within the interval is coalesced. A
question's tally is not sent while its results are hidden (`results_hidden`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from uuid import UUID

import redis.asyncio as aioredis
from websockets.asyncio.server import ServerConnection

from contracts import PollStateChanged, TallyUpdated, utcnow
from contracts.frames import PollStateFrame, TallyFrame
from contracts.polls import PollStatus, PollView, QuestionState
from ws_gateway import metrics
from ws_gateway.rooms import PollEntry, RoomDirectory, make_entry
from ws_gateway.tallies import parse_tally_hash, tally_frame, zero_frame
from ws_gateway.wire import fan_out
from zephyr_runtime import tracing
from zephyr_runtime.keys import RedisKeys
from zephyr_runtime.tasks import cancel_and_wait

log = logging.getLogger(__name__)


TallyKey = tuple[UUID, int]  # (poll id, qid)
# (previous entry, current entry, the questions whose poll_state was announced)
StateWatcher = Callable[["PollEntry | None", PollEntry, list[QuestionState]], None]


def _is_newer(candidate: TallyUpdated, current: TallyUpdated | None) -> bool:
    # An older epoch never overrides a newer one; within an epoch the higher version wins.
    return current is None or (candidate.epoch, candidate.version) > (
        current.epoch,
        current.version,
    )


def poll_state_frame(view: PollView, question: QuestionState) -> PollStateFrame:
    """The state of `question` and which question is current, with the time to count from."""
    return PollStateFrame(
        status=question.status,
        revealed=question.revealed,
        epoch=question.epoch,
        current=view.current,
        question=question.index,
        qid=question.qid,
        spec=question.spec,
        closes_at=question.closes_at,
        server_time=utcnow(),
    )


def changed_questions(previous: PollEntry | None, current: PollEntry) -> list[QuestionState]:
    """The questions whose state or place differ from `previous`; else the current one."""
    shown = current.current
    if previous is None:
        return [shown] if shown is not None else []
    found = [q for q in current.view.questions if previous.by_qid(q.qid) != q]
    moved = previous.current is None or shown is None or previous.current.qid != shown.qid
    if shown is not None and (moved or not found) and shown not in found:
        found.append(shown)
    return found


def _announced(
    previous: PollEntry | None, current: PollEntry, about: QuestionState | None
) -> list[QuestionState]:
    """The questions a change tells the screens about: the one it names, and every other one
    whose index it shifted (a move or a delete), so no screen holds a stale place in the run."""
    if about is None:
        return changed_questions(previous, current)
    shifted = [
        q
        for q in current.view.questions
        if q.qid != about.qid
        and previous is not None
        and (before := previous.by_qid(q.qid)) is not None
        and before.index != q.index
    ]
    return [about, *shifted]


def _withheld(entry: PollEntry, question: QuestionState) -> bool:
    """No tally of `question` goes to the screens: its results are hidden or, for a quiz, it is
    not closed. A tally that overtook the state message opening a quiz would otherwise go out
    while this cache still holds the quiz as a draft; the close announces the counts."""
    if entry.results_hidden(question):
        return True
    return question.kind == "quiz" and question.status is not PollStatus.CLOSED


class Fanout:
    def __init__(
        self,
        rooms: RoomDirectory,
        redis: aioredis.Redis,
        keys: RedisKeys,
        interval_ms: int,
        frame_budget: int | None = None,
    ) -> None:
        self._rooms = rooms
        self._redis = redis
        self._keys = keys
        self._interval = interval_ms / 1000
        # Frames per second this process may push; a big room is flushed less often (never
        # more often than `interval_ms`), so fan-out leaves CPU for votes and joins.
        self._frame_budget = frame_budget
        self._wait = self._interval
        self._frames_flushed = 0
        self._members: dict[UUID, set[ServerConnection]] = {}
        self._participant: dict[ServerConnection, UUID] = {}  # who joined on each socket
        self._on_empty: list[Callable[[UUID], None]] = []  # called when a room empties here
        # Host connections (ws_gateway.hosts) hear each kept tally and each announced change.
        self._tally_watchers: list[Callable[[TallyUpdated], None]] = []
        self._state_watchers: list[StateWatcher] = []
        self._latest: dict[UUID, dict[int, TallyUpdated]] = {}  # poll id -> qid -> tally
        # Trace context of each latest tally's message: its broadcast continues that trace.
        self._tally_trace: dict[TallyKey, dict[str, str]] = {}
        self._changed: set[TallyKey] = set()
        self._pending = asyncio.Event()  # set when `_changed` gained a question
        self._task: asyncio.Task[None] | None = None

    # ---- membership ----------------------------------------------------------------------

    def add(self, poll_id: UUID, ws: ServerConnection, participant_id: UUID | None = None) -> None:
        self._members.setdefault(poll_id, set()).add(ws)
        if participant_id is not None:
            self._participant[ws] = participant_id

    def remove(self, poll_id: UUID, ws: ServerConnection) -> None:
        members = self._members.get(poll_id)
        if members is None:
            return
        members.discard(ws)
        self._participant.pop(ws, None)
        if not members:
            del self._members[poll_id]
            for qid in self._latest.pop(poll_id, {}):
                self._tally_trace.pop((poll_id, qid), None)
                self._changed.discard((poll_id, qid))
            for forget in self._on_empty:
                forget(poll_id)

    def members(self, poll_id: UUID) -> set[ServerConnection]:
        return self._members.get(poll_id, set())

    def participants(self, poll_id: UUID) -> list[tuple[ServerConnection, UUID]]:
        """Each socket of the room with the participant who joined on it, as of now."""
        who = self._participant
        return [(ws, who[ws]) for ws in self.members(poll_id) if ws in who]

    def when_empty(self, forget: Callable[[UUID], None]) -> None:
        """Call `forget(poll_id)` when the last socket of a room leaves this process."""
        self._on_empty.append(forget)

    def audience_sizes(self) -> dict[UUID, int]:
        """Participant sockets per poll in this process (the presence heartbeat's counts)."""
        return {poll_id: len(members) for poll_id, members in self._members.items()}

    def watch_tallies(self, watch: Callable[[TallyUpdated], None]) -> None:
        """Call `watch(tally)` with every tally kept, results hidden or not."""
        self._tally_watchers.append(watch)

    def watch_states(self, watch: StateWatcher) -> None:
        """Call `watch(previous, current, questions)` with each change announced."""
        self._state_watchers.append(watch)

    def spend(self, frames: int) -> None:
        """Frames pushed outside the flusher (quiz results) count against the frame budget:
        the next tally flush waits longer, so votes and joins keep their share of the CPU."""
        self._frames_flushed += frames

    def latest_tally(self, poll_id: UUID, qid: int = 0) -> TallyUpdated | None:
        return self._latest.get(poll_id, {}).get(qid)

    def _forget_tally(self, poll_id: UUID, qid: int) -> None:
        self._latest.get(poll_id, {}).pop(qid, None)
        self._changed.discard((poll_id, qid))

    # ---- incoming live messages ----------------------------------------------------------

    def offer_tally(self, tally: TallyUpdated) -> bool:
        """Keep `tally` if it is the newest seen for its question; True when it was kept."""
        entry = self._rooms.get(tally.poll_id)
        question = entry.by_qid(tally.qid) if entry is not None else None
        if question is not None and tally.epoch < question.epoch:
            return False  # counted before a reset
        if not _is_newer(tally, self.latest_tally(tally.poll_id, tally.qid)):
            return False
        key = (tally.poll_id, tally.qid)
        self._latest.setdefault(tally.poll_id, {})[tally.qid] = tally
        self._tally_trace[key] = tracing.current_trace_headers()
        self._mark(key)
        for watch in self._tally_watchers:
            watch(tally)
        return True

    def _mark(self, key: TallyKey) -> None:
        self._changed.add(key)
        self._pending.set()

    async def load_tallies(self, poll_id: UUID, qids: list[int]) -> None:
        """Offer the tallies Redis holds for these questions (at join, after a reconnect)."""
        if not qids:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for qid in qids:
                pipe.hgetall(self._keys.tally(poll_id, qid))
            raws = await pipe.execute()
        for qid, raw in zip(qids, raws, strict=True):
            tally = parse_tally_hash(poll_id, qid, raw or {})
            if tally is not None:
                self.offer_tally(tally)

    async def on_poll_state(self, message: PollStateChanged) -> None:
        change = self._rooms.apply(make_entry(message.poll, message.state_version))
        if change is not None:
            await self.announce(change.previous, change.current, message.qid)

    async def announce(
        self, previous: PollEntry | None, current: PollEntry, qid: int | None = None
    ) -> None:
        """Tell the poll's screens about a state change: poll_state now, then tallies.

        `poll_state` is about question `qid`, the one the change is about; without it (a
        poll-wide change, or a state re-read from Redis) about each question that changed, or
        the current one. Then, per question: a reset sends its zero tally, a reveal its tally.
        """
        view = current.view
        members = self.members(view.id)
        about = current.by_qid(qid) if qid is not None else None
        announced = _announced(previous, current, about)
        for question in announced:
            fan_out(members, poll_state_frame(view, question))
        for watch in self._state_watchers:
            watch(previous, current, announced)
        for question in view.questions:
            before = previous.by_qid(question.qid) if previous is not None else None
            if previous is None or current.results_hidden(question):
                continue
            if before is None:
                # A question new to this view: a tally that came before it goes out now.
                if self.latest_tally(view.id, question.qid) is not None:
                    self._mark((view.id, question.qid))
                continue
            if before.epoch != question.epoch:
                latest = self.latest_tally(view.id, question.qid)
                if latest is None or latest.epoch < question.epoch:
                    self._forget_tally(view.id, question.qid)
                    self._broadcast_tally(view.id, zero_frame(question))
                    continue
            if _withheld(previous, before):
                # Just revealed: the screens have not seen any tally of it yet.
                tally = await self._current_tally(view.id, question)
                frame = tally_frame(tally, question.index) if tally is not None else None
                if frame is not None:
                    self._changed.discard((view.id, question.qid))
                    self._broadcast_tally(view.id, frame)

    async def _current_tally(self, poll_id: UUID, question: QuestionState) -> TallyUpdated | None:
        tally = self.latest_tally(poll_id, question.qid)
        if tally is None:
            try:
                raw = await self._redis.hgetall(self._keys.tally(poll_id, question.qid))
            except aioredis.RedisError:
                return None
            tally = parse_tally_hash(poll_id, question.qid, raw)
            if tally is not None:
                self.offer_tally(tally)
        return tally if tally is not None and tally.epoch == question.epoch else None

    # ---- the coalescing flusher ----------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tally-flusher")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last_flush = loop.time() - self._wait
        while True:
            await self._pending.wait()
            # Leading edge: a change after a quiet spell goes out now; one that follows a flush
            # within the interval waits for the rest of it, gathering whatever comes meanwhile.
            delay = last_flush + self._wait - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._pending.clear()
            try:
                self.flush()
            except Exception:
                log.exception("tally flush failed")
            last_flush = loop.time()
            # Every frame since the last wait: this flush's and those `spend` counted meanwhile.
            self._wait = self.next_wait(self._frames_flushed)
            self._frames_flushed = 0

    def next_wait(self, frames: int) -> float:
        """The adaptive interval: `frames` just pushed spend `frames / frame_budget` seconds."""
        if not self._frame_budget:
            return self._interval
        return max(self._interval, frames / self._frame_budget)

    def flush(self) -> None:
        """Broadcast the latest tally of every question that changed since the last flush."""
        changed, self._changed = self._changed, set()
        for poll_id, qid in changed:
            tally = self.latest_tally(poll_id, qid)
            entry = self._rooms.get(poll_id)
            question = entry.by_qid(qid) if entry is not None else None
            if tally is None or entry is None or question is None:
                continue
            if _withheld(entry, question) or tally.epoch < question.epoch:
                continue
            frame = tally_frame(tally, question.index)
            if frame is None:
                continue
            with tracing.span(
                "tally broadcast",
                parent_headers=self._tally_trace.pop((poll_id, qid), {}),
                attributes={
                    "zephyr.poll_id": str(poll_id),
                    "zephyr.qid": qid,
                    "zephyr.tally_version": tally.version,
                },
            ):
                self._broadcast_tally(poll_id, frame)

    def _broadcast_tally(self, poll_id: UUID, frame: TallyFrame) -> None:
        delivered = fan_out(self.members(poll_id), frame)
        self._frames_flushed += delivered
        if delivered:
            metrics.TALLY_BROADCASTS.inc()
            metrics.TALLY_FRAMES.inc(delivered)
            metrics.tally_pushed(poll_id)
        else:
            metrics.forget_tally(poll_id)
