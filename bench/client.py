"""A lean participant for load generation: one WebSocket, a join, votes, and what it saw.

Lighter than tests.support.participant (thousands live in one process): no per-frame history
unless asked, votes matched to their replies by `client_vote_id`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

TallyHook = Callable[["Screen", float, list[int]], None]


class Screen:
    """One participant's connection and screen."""

    def __init__(self, url: str, nickname: str, *, trace: bool = False) -> None:
        self.url = url
        self.nickname = nickname
        self.participant_id: str | None = None
        self.ws: ClientConnection | None = None
        self.counts: list[int] | None = None
        self.words: list[dict[str, Any]] | None = None  # a word cloud's top words
        self.total = 0
        self.version = -1
        self.changed_at = 0.0  # when the screen last showed new counts
        self.frames = 0  # tally frames received
        self.trace: list[tuple[float, int]] | None = [] if trace else None  # (time, total)
        self.sent: dict[str, float] = {}  # client_vote_id -> send time, until answered
        self.accepted_ids: list[str] = []
        self.accept_latency: list[float] = []
        self.errors: Counter[str] = Counter()
        self.closed = False
        self.status: str | None = None  # the poll's status as this screen knows it
        self.on_tally: TallyHook | None = None
        self.leaderboard_at: float | None = None  # when a quiz leaderboard first arrived
        self.quiz_result: dict[str, Any] | None = None
        self.quiz_result_at: float | None = None
        self.quiz_result_latest_at: float | None = None  # when the newest one arrived
        self._joined: asyncio.Future[dict[str, Any]] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._next_vote = 0

    async def open(self, timeout: float = 60) -> None:
        """Connect and join; raises on a refusal or a timeout."""
        self.ws = await connect(
            self.url, open_timeout=timeout, compression=None, max_size=2**16, ping_interval=None
        )
        self._joined = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read())
        await self.ws.send(orjson.dumps({"type": "join", "nickname": self.nickname}).decode())
        joined = await asyncio.wait_for(self._joined, timeout)
        if joined.get("type") != "joined":
            raise RuntimeError(f"join refused: {joined}")
        self.participant_id = joined["participant_id"]
        self.status = self.status or joined["poll"]["status"]
        if joined.get("tally"):
            self._tally(time.monotonic(), joined["tally"])

    async def vote(self, option: int, answer: dict[str, Any] | None = None) -> str:
        """Vote `option` on the current question, or send `answer` (e.g. `{"question": 2,
        "ranking": [1, 0]}`) instead; the vote's `client_vote_id`."""
        assert self.ws is not None
        self._next_vote += 1
        client_vote_id = str(self._next_vote)
        self.sent[client_vote_id] = time.monotonic()
        fields = answer if answer is not None else {"option": option}
        try:
            await self.ws.send(
                orjson.dumps({"type": "vote", **fields, "client_vote_id": client_vote_id}).decode()
            )
        except ConnectionClosed:
            self.sent.pop(client_vote_id, None)
            self.errors["closed"] += 1
        return client_vote_id

    def _tally(self, now: float, frame: dict[str, Any]) -> None:
        # The screen follows question 0 (the single choice every scenario measures).
        if frame.get("qid", 0) != 0 or frame["version"] < self.version:
            return
        # A word cloud's frame carries `words` (its top words) instead of `counts`.
        counts, words = frame.get("counts"), frame.get("words")
        if counts != self.counts or words != self.words:
            self.changed_at = now
        self.counts, self.words = counts, words
        self.total, self.version = frame["total"], frame["version"]
        if self.trace is not None:
            self.trace.append((now, self.total))
        if self.on_tally is not None and counts is not None:
            self.on_tally(self, now, counts)

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for raw in self.ws:
                now = time.monotonic()
                frame = orjson.loads(raw)
                kind = frame.get("type")
                if kind == "tally":
                    self.frames += 1
                    self._tally(now, frame)
                elif kind == "vote_accepted":
                    sent = self.sent.pop(frame.get("client_vote_id") or "", None)
                    if sent is not None:
                        self.accept_latency.append(now - sent)
                    self.accepted_ids.append(frame["vote_id"])
                elif kind == "poll_state":
                    self.status = frame.get("status")
                elif kind == "leaderboard":
                    self.leaderboard_at = self.leaderboard_at or now
                elif kind == "quiz_result":
                    self.quiz_result, self.quiz_result_at = frame, self.quiz_result_at or now
                    self.quiz_result_latest_at = now
                elif kind == "error":
                    self.errors[str(frame.get("code"))] += 1
                    if self._joined is not None and not self._joined.done():
                        self._joined.set_result(frame)
                elif kind == "joined" and self._joined is not None and not self._joined.done():
                    self._joined.set_result(frame)
        except ConnectionClosed:
            pass
        finally:
            self.closed = True
            if self._joined is not None and not self._joined.done():
                self._joined.set_exception(ConnectionError("closed before joining"))

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 5)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
