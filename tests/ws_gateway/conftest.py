"""ws-gateway tests: a gateway in-process on a free port, real Redis and RabbitMQ."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import aio_pika
import orjson
import pytest
import redis
import redis.asyncio as aioredis
from aio_pika.abc import AbstractIncomingMessage
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from contracts import Contract, PollView, VoteBatch
from contracts.polls import ROOM_CODE_ALPHABET, PollStatus, QuestionState
from contracts.questions import PUBLIC_QUESTION_ADAPTER
from contracts.topology import LIVE_EXCHANGE, VOTES_QUEUE
from tests.support.isolation import Resources
from ws_gateway.app import Gateway, running_gateway
from ws_gateway.settings import Settings
from zephyr_runtime.amqp import build_message
from zephyr_runtime.keys import RedisKeys
from zephyr_runtime.settings import load_settings

UNREACHABLE_POLL_API = "http://127.0.0.1:9"  # discard port: connection refused at once


def room_code() -> str:
    return "".join(random.choices(ROOM_CODE_ALPHABET, k=6))


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "port": 0,
        "poll_api_url": UNREACHABLE_POLL_API,
        "instance_id": f"test-gw-{uuid.uuid4().hex[:8]}",
        "shutdown_grace_seconds": 10,
    }
    values.update(overrides)
    return load_settings(Settings, **values)


@pytest.fixture
def keys(resources: Resources) -> RedisKeys:
    return RedisKeys(resources.redis_prefix)


@pytest.fixture(autouse=True)
def redis_alive(request: pytest.FixtureRequest) -> None:
    """No vote-worker runs here: stand in for its rebuild (`vote_worker.rebuild`) and set the
    sentinel, without which the gateway refuses joins (tests/ws_gateway/test_redis_loss.py
    removes it)."""
    if "resources" not in request.fixturenames:
        return
    res: Resources = request.getfixturevalue("resources")
    client = redis.Redis.from_url(res.redis_url)
    try:
        client.set(RedisKeys(res.redis_prefix).alive(), "test")
    finally:
        client.close()


@pytest.fixture
async def gateway(resources: Resources) -> AsyncIterator[Gateway]:
    async with running_gateway(make_settings()) as gw:
        yield gw


@pytest.fixture
def start_gateway(resources: Resources) -> Callable[..., Any]:
    """For tests that need other settings: `async with start_gateway(x=1) as gw`."""

    def start(**overrides: Any) -> contextlib.AbstractAsyncContextManager[Gateway]:
        return running_gateway(make_settings(**overrides))

    return start


def question(
    qid: int,
    spec: dict[str, Any] | None = None,
    *,
    index: int | None = None,
    status: PollStatus = PollStatus.OPEN,
    epoch: int = 0,
    revealed: bool = False,
    closes_at: datetime | None = None,
) -> QuestionState:
    """One question of a run (by default a single choice of three options, open)."""
    spec = spec or {"kind": "single", "prompt": "Which one?", "options": ["a", "b", "c"]}
    return QuestionState(
        qid=qid,
        index=qid if index is None else index,
        spec=PUBLIC_QUESTION_ADAPTER.validate_python(spec),
        status=status,
        revealed=revealed,
        epoch=epoch,
        closes_at=closes_at,
        ever_opened=status is not PollStatus.DRAFT,
    )


def run_view(
    questions: list[QuestionState],
    *,
    current: int = 0,
    hide_results_until_reveal: bool = False,
    code: str | None = None,
    poll_id: UUID | None = None,
) -> PollView:
    """A poll's public view as poll-api builds it: the top-level fields mirror `current`."""
    shown = questions[current]
    return PollView(
        id=poll_id or uuid.uuid4(),
        room_code=code or room_code(),
        question=shown.spec.prompt,
        options=list(getattr(shown.spec, "options", [])),
        status=shown.status,
        revealed=shown.revealed,
        epoch=shown.epoch,
        kind=shown.kind,
        hide_results_until_reveal=hide_results_until_reveal,
        current=current,
        questions=questions,
    )


def changed(view: PollView, qid: int | None = None, **updates: Any) -> PollView:
    """`view` with question `qid` (default: the current one) changed, `current` moved, or
    other `questions`."""
    current = updates.pop("current", view.current)
    questions = updates.pop("questions", view.questions)
    target = view.questions[view.current].qid if qid is None else qid
    questions = [q.model_copy(update=updates) if q.qid == target else q for q in questions]
    return run_view(
        questions,
        current=current,
        hide_results_until_reveal=view.hide_results_until_reveal,
        code=view.room_code,
        poll_id=view.id,
    )


async def seed_poll(
    redis: aioredis.Redis,
    keys: RedisKeys,
    *,
    status: PollStatus = PollStatus.OPEN,
    options: int = 3,
    epoch: int = 0,
    revealed: bool = False,
    hide_results_until_reveal: bool = False,
    state_version: int = 1,
    code: str | None = None,
    write_room: bool = True,
    questions: list[QuestionState] | None = None,
    current: int = 0,
) -> tuple[PollView, int]:
    """A poll in Redis, in the documented format (as poll-api writes it): by default a run of
    one single-choice question with `options` options."""
    if questions is None:
        spec = {
            "kind": "single",
            "prompt": "Which one?",
            "options": [f"option {i}" for i in range(options)],
        }
        questions = [question(0, spec, status=status, epoch=epoch, revealed=revealed)]
    view = run_view(
        questions,
        current=current,
        hide_results_until_reveal=hide_results_until_reveal,
        code=code,
    )
    await write_state(redis, keys, view, state_version)
    if write_room:
        await redis.set(keys.room(view.room_code), str(view.id))
    return view, state_version


def _micros(at: datetime | None) -> str:
    return "0" if at is None else str(int(at.timestamp() * 1_000_000))


async def write_state(
    redis: aioredis.Redis, keys: RedisKeys, view: PollView, state_version: int
) -> None:
    """poll-api's state hash (docs/questions.md): the view, the current question's fields and
    every question's `q<qid>:status`, `q<qid>:epoch`, `q<qid>:closes_us`."""
    shown = view.questions[view.current]
    mapping = {
        "status": shown.status.value,
        "epoch": str(shown.epoch),
        "revealed": "1" if shown.revealed else "0",
        "current": str(shown.qid),
        "state_version": str(state_version),
        "view": view.model_dump_json(),
    }
    for q in view.questions:
        mapping[f"q{q.qid}:status"] = q.status.value
        mapping[f"q{q.qid}:epoch"] = str(q.epoch)
        mapping[f"q{q.qid}:closes_us"] = _micros(q.closes_at)
    await redis.delete(keys.poll_state(view.id))
    await redis.hset(keys.poll_state(view.id), mapping=mapping)


async def write_tally(
    redis: aioredis.Redis,
    keys: RedisKeys,
    poll_id: UUID,
    counts: list[int],
    *,
    epoch: int,
    version: int,
    qid: int = 0,
    kind: str = "single",
    aggregate: dict[str, Any] | None = None,
) -> None:
    """vote-worker's tally hash of one question."""
    aggregate = aggregate or {"kind": kind, "counts": counts, "total": sum(counts)}
    await redis.hset(
        keys.tally(poll_id, qid),
        mapping={
            "version": str(version),
            "epoch": str(epoch),
            "kind": kind,
            "counts": orjson.dumps(counts).decode(),
            "total": str(aggregate["total"]),
            "aggregate": orjson.dumps(aggregate).decode(),
        },
    )


@pytest.fixture
async def poll(redis_client: aioredis.Redis, keys: RedisKeys) -> PollView:
    """An open poll with three options, in Redis as poll-api writes it."""
    view, _ = await seed_poll(redis_client, keys)
    return view


def state_of(frame: dict[str, Any]) -> tuple[Any, ...]:
    """A poll_state frame's (status, revealed, epoch, current, question, qid)."""
    assert frame["type"] == "poll_state", frame
    return tuple(frame[k] for k in ("status", "revealed", "epoch", "current", "question", "qid"))


def single_tally(
    counts: list[int], version: int, *, question: int = 0, qid: int = 0
) -> dict[str, Any]:
    """A single-choice question's `tally` frame as the gateway sends it."""
    return {
        "type": "tally",
        "question": question,
        "qid": qid,
        "kind": "single",
        "counts": counts,
        "total": sum(counts),
        "version": version,
    }


def ws_url(gw: Gateway, code: str) -> str:
    return f"ws://127.0.0.1:{gw.port}/ws/{code}"


@contextlib.asynccontextmanager
async def client(gw: Gateway, code: str) -> AsyncIterator[ClientConnection]:
    async with connect(ws_url(gw, code), compression=None, proxy=None, open_timeout=10) as ws:
        yield ws


async def recv(ws: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    raw = await asyncio.wait_for(ws.recv(), timeout)
    frame: dict[str, Any] = orjson.loads(raw)
    return frame


async def recv_until(
    ws: ClientConnection, kind: str, timeout: float = 10
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The next frame of `kind`, and every other frame received before it."""
    skipped: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            frame = await recv(ws, timeout)
            if frame["type"] == kind:
                return frame, skipped
            skipped.append(frame)


async def send(ws: ClientConnection, frame: dict[str, Any]) -> None:
    await ws.send(orjson.dumps(frame).decode())


async def request(ws: ClientConnection, frame: dict[str, Any]) -> dict[str, Any]:
    await send(ws, frame)
    return await recv(ws)


async def join(
    ws: ClientConnection, nickname: str, resume_token: str | None = None
) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "join", "nickname": nickname}
    if resume_token is not None:
        frame["resume_token"] = resume_token
    return await request(ws, frame)


# ---- RabbitMQ --------------------------------------------------------------------------


class GatedPublisher:
    """Holds every publish until the gate opens, then publishes for real."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.gate = asyncio.Event()

    async def publish(self, message: Contract, **kwargs: Any) -> None:
        await self.gate.wait()
        await self.real.publish(message, **kwargs)


@dataclass
class VoteQueueReader:
    """Consumes the shared `votes` queue, keeping (and acking) only our polls' batches.

    Foreign messages stay unacked and go back to the queue when the reader closes.
    """

    amqp_url: str
    poll_ids: set[str]
    batches: list[tuple[AbstractIncomingMessage, VoteBatch]] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            batch = VoteBatch.model_validate_json(message.body)
        except ValueError:
            return
        if {str(v.poll_id) for v in batch.votes} & self.poll_ids:
            self.batches.append((message, batch))
            await message.ack()
            self._arrived.set()

    async def wait_for_votes(self, count: int, timeout: float = 15) -> list[Any]:
        async with asyncio.timeout(timeout):
            while len(self.votes()) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.votes()

    def votes(self) -> list[Any]:
        return [v for _, b in self.batches for v in b.votes if str(v.poll_id) in self.poll_ids]


@contextlib.asynccontextmanager
async def vote_reader(
    resources: Resources, poll_ids: Iterable[UUID]
) -> AsyncIterator[VoteQueueReader]:
    reader = VoteQueueReader(resources.amqp_url, {str(p) for p in poll_ids})
    connection = await aio_pika.connect(resources.amqp_url)
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=500)
        queue = await channel.get_queue(VOTES_QUEUE, ensure=True)
        await queue.consume(reader._on_message)
        yield reader
    finally:
        await connection.close()


async def take_messages(
    resources: Resources, queue_name: str, mine: Callable[[AbstractIncomingMessage], bool]
) -> list[AbstractIncomingMessage]:
    """Basic.get what is in a shared queue right now; ack ours, leave the rest for their owners."""
    ours = []
    connection = await aio_pika.connect(resources.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(queue_name, ensure=True)
        while (message := await queue.get(no_ack=False, fail=False)) is not None:
            if mine(message):
                await message.ack()
                ours.append(message)
    finally:
        await connection.close()  # unacked foreign messages go back to the queue
    return ours


@contextlib.asynccontextmanager
async def live_publisher(
    resources: Resources,
) -> AsyncIterator[Callable[[Contract, str], Awaitable[None]]]:
    """Publishes contracts to `zephyr.live` (standing in for vote-worker and poll-api)."""
    connection = await aio_pika.connect(resources.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(LIVE_EXCHANGE)

        async def publish(message: Contract, routing_key: str) -> None:
            await exchange.publish(
                build_message(message, correlation_id=uuid.uuid4().hex), routing_key=routing_key
            )

        yield publish
    finally:
        await connection.close()


# ---- a stand-in for poll-api's read-through -------------------------------------------


@dataclass
class PollApiStub:
    """Answers `GET /api/polls/{code}` like poll-api: writes the Redis state back, then replies."""

    redis: aioredis.Redis
    keys: RedisKeys
    polls: dict[str, tuple[PollView, int]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    url: str = ""

    async def _process(self, connection: ServerConnection, req: Request) -> Response:
        self.requests.append(req.path)
        code = req.path.rsplit("/", 1)[-1]
        if not req.path.startswith("/api/polls/") or code not in self.polls:
            return _json(404, {"detail": "poll not found"})
        view, state_version = self.polls[code]
        await write_state(self.redis, self.keys, view, state_version)
        await self.redis.set(self.keys.room(code), str(view.id))
        body = {
            **view.model_dump(mode="json"),
            "state_version": state_version,
            "participant_count": 0,
        }
        return _json(200, body)


def _json(status: int, payload: Any) -> Response:
    body = orjson.dumps(payload)
    headers = Headers(
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
        ]
    )
    return Response(status, "OK" if status == 200 else "Not Found", headers, body)


@pytest.fixture
async def poll_api(redis_client: aioredis.Redis, keys: RedisKeys) -> AsyncIterator[PollApiStub]:
    stub = PollApiStub(redis_client, keys)

    async def never(_: ServerConnection) -> None:  # pragma: no cover - no WebSocket here
        return None

    async with serve(never, "127.0.0.1", 0, process_request=stub._process) as server:
        stub.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        yield stub
