"""Who watches which poll, and what they are sent: coalesced tallies and poll state changes.

Tally messages only replace the latest tally per poll; a flusher broadcasts each changed poll's
latest tally at most every `tally_interval_ms`, so screens never get one frame per vote.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any
from uuid import UUID

import orjson
import redis.asyncio as aioredis
from websockets.asyncio.server import ServerConnection

from contracts import PollStateChanged, TallyUpdated
from contracts.frames import PollStateFrame, TallyFrame, TallyView
from ws_gateway import metrics
from ws_gateway.rooms import PollEntry, RoomDirectory
from ws_gateway.wire import fan_out
from zephyr_runtime import tracing
from zephyr_runtime.keys import RedisKeys

log = logging.getLogger(__name__)


def parse_tally_hash(poll_id: UUID, raw: Mapping[Any, Any]) -> TallyUpdated | None:
    """vote-worker's tally hash (version, epoch, counts JSON, total); None if absent/unreadable."""
    if not raw:
        return None
    try:
        return TallyUpdated(
            poll_id=poll_id,
            epoch=int(raw["epoch"]),
            counts=[int(c) for c in orjson.loads(raw["counts"])],
            total=int(raw["total"]),
            version=int(raw["version"]),
        )
    except (KeyError, ValueError, TypeError, orjson.JSONDecodeError):
        log.warning("unreadable tally in redis", extra={"poll_id": str(poll_id)})
        return None


def tally_view(tally: TallyUpdated) -> TallyView:
    return TallyView(counts=tally.counts, total=tally.total, version=tally.version)


def _is_newer(candidate: TallyUpdated, current: TallyUpdated | None) -> bool:
    # An older epoch never overrides a newer one; within an epoch the higher version wins.
    return current is None or (candidate.epoch, candidate.version) > (
        current.epoch,
        current.version,
    )


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
        self._latest: dict[UUID, TallyUpdated] = {}
        # Trace context of each latest tally's message: its broadcast continues that trace.
        self._tally_trace: dict[UUID, dict[str, str]] = {}
        self._changed: set[UUID] = set()
        self._task: asyncio.Task[None] | None = None

    # ---- membership ----------------------------------------------------------------------

    def add(self, poll_id: UUID, ws: ServerConnection) -> None:
        self._members.setdefault(poll_id, set()).add(ws)

    def remove(self, poll_id: UUID, ws: ServerConnection) -> None:
        members = self._members.get(poll_id)
        if members is None:
            return
        members.discard(ws)
        if not members:
            del self._members[poll_id]
            self._latest.pop(poll_id, None)
            self._tally_trace.pop(poll_id, None)
            self._changed.discard(poll_id)

    def members(self, poll_id: UUID) -> set[ServerConnection]:
        return self._members.get(poll_id, set())

    def latest_tally(self, poll_id: UUID) -> TallyUpdated | None:
        return self._latest.get(poll_id)

    # ---- incoming live messages ----------------------------------------------------------

    def offer_tally(self, tally: TallyUpdated) -> bool:
        """Keep `tally` if it is the newest seen for its poll; True when it was kept."""
        entry = self._rooms.get(tally.poll_id)
        if entry is not None and tally.epoch < entry.view.epoch:
            return False  # counted before a reset
        if not _is_newer(tally, self._latest.get(tally.poll_id)):
            return False
        self._latest[tally.poll_id] = tally
        self._tally_trace[tally.poll_id] = tracing.current_trace_headers()
        self._changed.add(tally.poll_id)
        return True

    async def on_poll_state(self, message: PollStateChanged) -> None:
        change = self._rooms.apply(PollEntry(message.poll, message.state_version))
        if change is not None:
            await self.announce(change.previous, change.current)

    async def announce(self, previous: PollEntry | None, current: PollEntry) -> None:
        """Tell the poll's screens about a state change: poll_state now, then tallies."""
        view = current.view
        members = self.members(view.id)
        fan_out(
            members, PollStateFrame(status=view.status, revealed=view.revealed, epoch=view.epoch)
        )
        if current.results_hidden:
            return
        if previous is not None and previous.view.epoch != view.epoch:
            latest = self._latest.get(view.id)
            if latest is None or latest.epoch < view.epoch:
                self._latest.pop(view.id, None)
                self._changed.discard(view.id)
                zero = TallyFrame(counts=[0] * len(view.options), total=0, version=0)
                self._broadcast_tally(view.id, zero)
                return
        if previous is not None and previous.results_hidden:
            # Just revealed: the screens have not seen any tally yet.
            tally = await self._current_tally(view.id, view.epoch)
            if tally is not None:
                self._changed.discard(view.id)
                self._broadcast_tally(view.id, TallyFrame(**tally_view(tally).model_dump()))

    async def _current_tally(self, poll_id: UUID, epoch: int) -> TallyUpdated | None:
        tally = self._latest.get(poll_id)
        if tally is None:
            try:
                raw = await self._redis.hgetall(self._keys.tally(poll_id))
            except aioredis.RedisError:
                return None
            tally = parse_tally_hash(poll_id, raw)
            if tally is not None:
                self.offer_tally(tally)
        return tally if tally is not None and tally.epoch == epoch else None

    # ---- the coalescing flusher ----------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tally-flusher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._wait)
            self._frames_flushed = 0
            try:
                self.flush()
            except Exception:
                log.exception("tally flush failed")
            self._wait = self.next_wait(self._frames_flushed)

    def next_wait(self, frames: int) -> float:
        """The adaptive interval: `frames` just pushed spend `frames / frame_budget` seconds."""
        if not self._frame_budget:
            return self._interval
        return max(self._interval, frames / self._frame_budget)

    def flush(self) -> None:
        """Broadcast the latest tally of every poll that changed since the last flush."""
        changed, self._changed = self._changed, set()
        for poll_id in changed:
            tally = self._latest.get(poll_id)
            entry = self._rooms.get(poll_id)
            if tally is None or entry is None or entry.results_hidden:
                continue
            if tally.epoch < entry.view.epoch:
                continue
            with tracing.span(
                "tally broadcast",
                parent_headers=self._tally_trace.pop(poll_id, {}),
                attributes={"zephyr.poll_id": str(poll_id), "zephyr.tally_version": tally.version},
            ):
                self._broadcast_tally(poll_id, TallyFrame(**tally_view(tally).model_dump()))

    def _broadcast_tally(self, poll_id: UUID, frame: TallyFrame) -> None:
        delivered = fan_out(self.members(poll_id), frame)
        self._frames_flushed += delivered
        if delivered:
            metrics.TALLY_BROADCASTS.inc()
            metrics.TALLY_FRAMES.inc(delivered)
            metrics.tally_pushed(poll_id)
        else:
            metrics.forget_tally(poll_id)
