"""A participant that keeps voting through faults: pipelines votes, reconnects, resends.

Votes go out in bursts of up to `window`; a burst ends when every vote in it has an answer (or
the connection drops). Every vote carries a `client_vote_id`, so a vote whose answer never came
(refused, or lost with a dying gateway) is resent with the same id: the same `vote_id`, counted
once. `accepted` keeps the `vote_accepted` frames in arrival order, which is the order of their
`seq`: the last one per question is the answer that must count.

The fault suite runs a poll of mixed kinds (scenario.QUESTIONS): a planned answer names its
question by index and carries the answer field of that question's kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

RETRY_CODES = {"unavailable", "overloaded", "rate_limited"}


@dataclass
class Planned:
    client_vote_id: str
    option: int  # the single-choice option (question 0), or unused
    question: int = 0  # index in the run; 0 is sent without `question`, as a v1 client does
    fields: dict[str, Any] | None = None  # the answer of another kind, e.g. {"ranking": [..]}

    def frame(self) -> dict[str, Any]:
        if self.question == 0 or self.fields is None:
            answer: dict[str, Any] = {"option": self.option}
        else:
            answer = {"question": self.question, **self.fields}
        return {"type": "vote", **answer, "client_vote_id": self.client_vote_id}


@dataclass
class Voter:
    gateways: list[str]  # ws://127.0.0.1:PORT/ws/ROOM, one per gateway
    nickname: str
    home: int  # index of the gateway it starts on
    plan: list[Planned] = field(default_factory=list)
    participant_id: str | None = None
    resume_token: str | None = None
    accepted: list[dict[str, Any]] = field(default_factory=list)
    accepted_at: list[float] = field(default_factory=list)
    unknown: dict[str, Planned] = field(default_factory=dict)  # sent, never answered
    sent: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    unexpected: list[dict[str, Any]] = field(default_factory=list)
    last_tally: dict[str, Any] | None = None
    tallies: dict[int, dict[str, Any]] = field(default_factory=dict)  # qid -> latest tally
    states: list[str] = field(default_factory=list)
    reconnects: int = 0
    closed_votes: int = 0  # refused with poll_closed and given up
    retry_closed: bool = False  # scenario 3: the poll reopens, so poll_closed is retried
    _ws: ClientConnection | None = None
    _reader: asyncio.Task[None] | None = None
    _joined: asyncio.Future[dict[str, Any]] | None = None
    _burst: dict[str, Planned] = field(default_factory=dict)
    _answers: int = 0
    _sent_in_burst: int = 0
    _burst_done: asyncio.Event = field(default_factory=asyncio.Event)
    _retry_after: float = 0.0

    # ---- connection ------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._reader is not None and not self._reader.done()

    async def connect_and_join(self, deadline: float) -> None:
        """Connect (home gateway first, then the others) and join or resume, until `deadline`."""
        attempt = 0
        while True:
            url = self.gateways[(self.home + attempt) % len(self.gateways)]
            try:
                await self._connect(url)
                await self._join()
                return
            except (
                OSError,
                TimeoutError,
                ConnectionError,
                ConnectionClosed,  # e.g. 1013: the room lookup failed, try again later
                InvalidHandshake,
                InvalidStatus,
            ):
                await self._drop()
            except RuntimeError:  # refused join (e.g. unavailable): retry shortly
                await self._drop()
            attempt += 1
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.nickname} could not reconnect")
            await asyncio.sleep(min(2.0, 0.1 * attempt) * random.uniform(0.5, 1.5))

    async def _connect(self, url: str) -> None:
        self._ws = await connect(url, open_timeout=10, max_size=2**20, compression=None)
        self._reader = asyncio.create_task(self._read())

    async def _join(self) -> None:
        self._joined = asyncio.get_running_loop().create_future()
        frame: dict[str, Any] = {"type": "join", "nickname": self.nickname}
        if self.resume_token:
            frame["resume_token"] = self.resume_token
        assert self._ws is not None
        await self._ws.send(orjson.dumps(frame).decode())
        joined = await asyncio.wait_for(self._joined, 15)
        if joined["type"] == "error":
            raise RuntimeError(f"join refused: {joined}")
        if self.participant_id is not None and joined["participant_id"] != self.participant_id:
            raise AssertionError(f"resume gave another identity: {joined}")
        self.participant_id = joined["participant_id"]
        self.resume_token = joined["resume_token"]
        if joined.get("tally"):
            self._tally(joined["tally"])

    async def _drop(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), 2)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
        self._ws = None
        self._reader = None

    async def close(self) -> None:
        await self._drop()

    # ---- frames in -------------------------------------------------------------------------

    def _tally(self, frame: dict[str, Any]) -> None:
        qid = int(frame.get("qid", 0))
        latest = self.tallies.get(qid)
        if latest is None or frame["version"] >= latest["version"]:
            self.tallies[qid] = frame
        if qid == 0 and (self.last_tally is None or frame["version"] >= self.last_tally["version"]):
            self.last_tally = {k: frame.get(k) for k in ("counts", "total", "version")}

    def accepted_for(self, qid: int) -> list[dict[str, Any]]:
        """The `vote_accepted` frames of one question, in order."""
        return [a for a in self.accepted if int(a.get("qid", 0)) == qid]

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for raw in self._ws:
                self._on_frame(orjson.loads(raw))
        except ConnectionClosed:
            pass
        finally:
            if self._joined is not None and not self._joined.done():
                self._joined.set_exception(ConnectionError("closed while joining"))
            self._burst_done.set()

    def _on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "joined" or (
            kind == "error" and self._joined is not None and not self._joined.done()
        ):
            assert self._joined is not None
            self._joined.set_result(frame)
        elif kind == "tally":
            self._tally(frame)
        elif kind == "poll_state":
            self.states.append(frame["status"])
        elif kind == "vote_accepted":
            planned = self._burst.pop(str(frame.get("client_vote_id")), None)
            self.unknown.pop(str(frame.get("client_vote_id")), None)
            self.accepted.append(frame)
            self.accepted_at.append(time.monotonic())
            if planned is not None:
                self._answered()
        elif kind == "error":
            code = str(frame.get("code"))
            self.errors[code] = self.errors.get(code, 0) + 1
            if code in RETRY_CODES or code == "poll_closed":
                self._retry_after = max(self._retry_after, float(frame.get("retry_after") or 0.2))
            else:
                self.unexpected.append(frame)
            self._answered()

    def _answered(self) -> None:
        self._answers += 1
        if self._answers >= self._sent_in_burst:
            self._burst_done.set()

    # ---- voting ----------------------------------------------------------------------------

    def make_plan(
        self,
        votes: int,
        options: int,
        rng: random.Random,
        others: list[Any] | None = None,
    ) -> None:
        """`votes` answers, changing freely (so participants change them). With `others`
        (callables `rng -> (question index, answer fields)`), every third answer goes to one of
        those questions instead of question 0."""
        base = uuid.uuid4().hex[:8]
        self.plan = []
        for i in range(votes):
            planned = Planned(f"{base}-{i}", rng.randrange(options))
            if others and i % 3 == 2:
                planned.question, planned.fields = rng.choice(others)(rng)
            self.plan.append(planned)

    async def run(self, window: int, deadline: float) -> None:
        """Cast every planned vote, retrying refused ones, reconnecting when dropped."""
        todo = list(self.plan)
        while todo:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.nickname}: {len(todo)} votes not cast in time")
            if not self.connected:
                self.reconnects += 1
                await self._drop()
                await self.connect_and_join(deadline)
            burst, todo = todo[:window], todo[window:]
            unanswered = await self._send_burst(burst)
            if self._retry_after:
                await asyncio.sleep(min(self._retry_after, 2.0) * random.uniform(0.5, 1.0))
                self._retry_after = 0.0
            todo = unanswered + todo

    async def _send_burst(self, burst: list[Planned]) -> list[Planned]:
        """Send the burst; returns the votes that must be sent again (refused or unanswered)."""
        self._burst = {p.client_vote_id: p for p in burst}
        self._answers = 0
        self._sent_in_burst = len(burst)
        self._burst_done.clear()
        try:
            assert self._ws is not None
            for planned in burst:
                frame = planned.frame()
                self.unknown[planned.client_vote_id] = planned
                self.sent += 1
                await self._ws.send(orjson.dumps(frame).decode())
            await asyncio.wait_for(self._burst_done.wait(), 60)
        except (ConnectionClosed, TimeoutError, AssertionError):
            await self._drop()
        left = list(self._burst.values())
        self._burst = {}
        if not self.retry_closed and self.errors.get("poll_closed"):
            # The poll closed for good: the refused votes are simply not cast.
            self.closed_votes += len(left)
            for planned in left:
                self.unknown.pop(planned.client_vote_id, None)
            return []
        return left
