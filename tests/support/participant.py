"""A participant's screen over a real WebSocket: joins, votes, and remembers what it saw."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

VOTE_REPLIES = {"vote_accepted", "error"}


@dataclass
class Participant:
    ws_url: str  # ws://127.0.0.1:PORT/ws/ROOM
    nickname: str
    participant_id: str | None = None
    resume_token: str | None = None
    joined: dict[str, Any] | None = None
    accepted: list[dict[str, Any]] = field(default_factory=list)  # vote_accepted frames, in order
    errors: list[dict[str, Any]] = field(default_factory=list)
    last_tally: dict[str, Any] | None = None
    tallies: dict[int, dict[str, Any]] = field(default_factory=dict)  # qid -> latest tally frame
    tally_frames: int = 0
    states: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None
    frames: list[dict[str, Any]] = field(default_factory=list)  # every frame, in order
    quiz_results: dict[int, dict[str, Any]] = field(default_factory=dict)  # qid -> latest
    leaderboards: list[dict[str, Any]] = field(default_factory=list)
    _ws: ClientConnection | None = None
    _reader: asyncio.Task[None] | None = None
    _pending: deque[asyncio.Future[dict[str, Any]]] = field(default_factory=deque)
    _joined: asyncio.Future[dict[str, Any]] | None = None

    async def connect(self, ws_url: str | None = None) -> None:
        self.ws_url = ws_url or self.ws_url
        self._ws = await connect(self.ws_url, open_timeout=10, max_size=2**20, compression=None)
        self._reader = asyncio.create_task(self._read())

    async def join(self, timeout: float = 10) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        self._joined = loop.create_future()
        frame: dict[str, Any] = {"type": "join", "nickname": self.nickname}
        if self.resume_token:
            frame["resume_token"] = self.resume_token
        await self.send(frame)
        joined = await asyncio.wait_for(self._joined, timeout)
        if joined["type"] == "error":
            raise RuntimeError(f"join refused: {joined}")
        self.joined = joined
        self.participant_id = joined["participant_id"]
        self.resume_token = joined["resume_token"]
        if joined.get("tally"):
            self._tally(joined["tally"])
        if joined.get("quiz_result"):
            self._quiz_result(joined["quiz_result"])
        if joined.get("leaderboard"):
            self.leaderboards.append(joined["leaderboard"])
        return joined

    async def vote(
        self, option: int, client_vote_id: str | None = None, timeout: float = 30
    ) -> dict[str, Any]:
        """Send a vote and wait for its reply: `vote_accepted` or `error`."""
        return await self.answer({"option": option}, client_vote_id=client_vote_id, timeout=timeout)

    async def answer(
        self,
        fields: dict[str, Any],
        question: int | None = None,
        client_vote_id: str | None = None,
        timeout: float = 30,
    ) -> dict[str, Any]:
        """Send an answer of any kind (`{"ranking": [2, 0]}`, ...) to `question` (an index;
        None: the current one) and wait for its reply: `vote_accepted` or `error`."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending.append(future)
        frame: dict[str, Any] = {"type": "vote", **fields}
        if question is not None:
            frame["question"] = question
        if client_vote_id:
            frame["client_vote_id"] = client_vote_id
        await self.send(frame)
        return await asyncio.wait_for(future, timeout)

    async def send(self, frame: dict[str, Any] | str | bytes) -> None:
        assert self._ws is not None, "not connected"
        data = frame if isinstance(frame, str | bytes) else orjson.dumps(frame).decode()
        await self._ws.send(data)

    def _tally(self, frame: dict[str, Any]) -> None:
        qid = frame.get("qid", 0)
        latest = self.tallies.get(qid)
        if latest is None or frame["version"] >= latest["version"]:
            self.tallies[qid] = frame
        if qid == 0 and (self.last_tally is None or frame["version"] >= self.last_tally["version"]):
            self.last_tally = {k: frame.get(k) for k in ("counts", "total", "version")}

    def _quiz_result(self, frame: dict[str, Any]) -> None:
        latest = self.quiz_results.get(frame["qid"])
        if latest is None or frame.get("version", 0) >= latest.get("version", 0):
            self.quiz_results[frame["qid"]] = frame

    @property
    def last_quiz_result(self) -> dict[str, Any] | None:
        """Their result of the latest scored version (whatever the question)."""
        if not self.quiz_results:
            return None
        return max(self.quiz_results.values(), key=lambda f: f.get("version", 0))

    def _joining(self) -> bool:
        """An error while a join is outstanding (and no vote is) answers the join."""
        return self._joined is not None and not self._joined.done() and not self._pending

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for raw in self._ws:
                frame = orjson.loads(raw)
                self.frames.append(frame)
                kind = frame.get("type")
                if kind == "joined" or (kind == "error" and self._joining()):
                    assert self._joined is not None
                    self._joined.set_result(frame)
                    if kind == "error":
                        self.errors.append(frame)
                    continue
                if kind == "tally":
                    self.tally_frames += 1
                    self._tally(frame)
                elif kind == "poll_state":
                    self.states.append(frame)
                elif kind == "quiz_result":
                    self._quiz_result(frame)
                elif kind == "leaderboard":
                    self.leaderboards.append(frame)
                elif kind in VOTE_REPLIES:
                    if kind == "vote_accepted":
                        self.accepted.append(frame)
                    else:
                        self.errors.append(frame)
                    if self._pending:
                        self._pending.popleft().set_result(frame)
        except ConnectionClosed:
            pass
        finally:
            if self._ws is not None:
                self.close_code = self._ws.close_code
            for future in self._pending:
                if not future.done():
                    future.set_exception(ConnectionError(f"closed ({self.close_code})"))
            self._pending.clear()
            if self._joined is not None and not self._joined.done():
                self._joined.set_exception(ConnectionError(f"closed ({self.close_code})"))

    @property
    def connected(self) -> bool:
        return self._reader is not None and not self._reader.done()

    async def wait_closed(self, timeout: float = 10) -> int | None:
        if self._reader is not None:
            await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        return self.close_code

    async def close(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)


async def join_when_available(p: Participant, timeout: float = 30) -> dict[str, Any]:
    """`p.join()`, retried while the gateway answers `unavailable` (Redis being rebuilt after
    a test before emptied it: docs/reliability.md), as a participant's page does."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await p.join()
        except RuntimeError as refused:
            if "unavailable" not in str(refused) or asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(1.0)
