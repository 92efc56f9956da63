"""audit_sink.flusher and its batcher against the real database: size and time flushes,
retries, isolation."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from audit_sink.flusher import AuditFlusher, Delivery, RowStore
from audit_sink.rows import AuditRow, to_row
from audit_sink.settings import Settings
from audit_sink.store import AuditStore
from tests.audit_sink.conftest import make_event, wait_for_rows
from tests.support.eventually import eventually
from tests.support.isolation import PG_ADMIN_URL, Resources
from zephyr_runtime.batching import Batcher
from zephyr_runtime.migrations import Migrations
from zephyr_runtime.settings import load_settings


class FakeMessage:
    """Stands in for the broker's message handle and records how it was settled."""

    def __init__(self) -> None:
        self.acks = 0
        self.rejects: list[bool] = []

    async def ack(self) -> None:
        self.acks += 1

    async def reject(self, requeue: bool = False) -> None:
        self.rejects.append(requeue)

    @property
    def settled(self) -> bool:
        return self.acks + len(self.rejects) > 0


class CountingStore:
    def __init__(self, inner: AuditStore) -> None:
        self.inner = inner
        self.calls: list[int] = []

    async def insert(self, rows: Sequence[AuditRow]) -> int:
        self.calls.append(len(rows))
        return await self.inner.insert(rows)


@pytest.fixture
async def store(resources: Resources) -> AsyncIterator[AuditStore]:
    audit_store = AuditStore(load_settings(Settings, database_url=resources.database_url))
    await audit_store.open()
    try:
        yield audit_store
    finally:
        await audit_store.close()


def rows_for(poll_id: uuid.UUID, count: int) -> list[AuditRow]:
    return [to_row(make_event(poll_id)) for _ in range(count)]


@contextlib.asynccontextmanager
async def running(store: RowStore, **limits: Any) -> AsyncIterator[Batcher[Delivery]]:
    """The flusher's batcher, started; stopped (what is pending flushed) afterwards."""
    batcher = AuditFlusher(store).batcher(**limits)
    batcher.start()
    try:
        yield batcher
    finally:
        await batcher.stop(timeout=5)


def add(batcher: Batcher[Delivery], message: FakeMessage, rows: list[AuditRow]) -> None:
    batcher.add(Delivery(message, rows))


async def wait_settled(messages: Sequence[FakeMessage], timeout: float = 30.0) -> None:
    await eventually(
        lambda: all(m.settled for m in messages), timeout=timeout, interval=0.01, what="settled"
    )


async def test_flushes_when_the_batch_is_full(store: AuditStore, db: asyncpg.Connection) -> None:
    counting = CountingStore(store)
    poll_id = uuid.uuid4()
    first, second = FakeMessage(), FakeMessage()
    rows = rows_for(poll_id, 6)
    async with running(counting, max_events=5, max_wait=3600) as batcher:
        add(batcher, first, rows[:3])
        add(batcher, second, rows[3:])
        await wait_settled([first, second])
        # One INSERT for both messages, long before the hour-long wait.
        assert counting.calls == [6]
        assert (first.acks, second.acks) == (1, 1)
        assert first.rejects == second.rejects == []
        await wait_for_rows(db, [r.event_id for r in rows], timeout=1)


async def test_flushes_a_small_batch_after_the_wait(
    store: AuditStore, db: asyncpg.Connection
) -> None:
    message = FakeMessage()
    rows = rows_for(uuid.uuid4(), 2)
    async with running(store, max_events=1000, max_wait=0.01) as batcher:
        add(batcher, message, rows)
        await wait_settled([message])
        assert message.acks == 1
        await wait_for_rows(db, [r.event_id for r in rows], timeout=1)


async def test_close_flushes_and_acks_what_is_pending(
    store: AuditStore, db: asyncpg.Connection
) -> None:
    messages = [FakeMessage() for _ in range(3)]
    rows = rows_for(uuid.uuid4(), 3)
    async with running(store, max_events=1000, max_wait=3600) as batcher:
        for message, row in zip(messages, rows, strict=True):
            add(batcher, message, [row])
        await asyncio.sleep(0.05)
        assert not any(m.settled for m in messages)

        assert await batcher.stop(timeout=10)

    assert [m.acks for m in messages] == [1, 1, 1]
    await wait_for_rows(db, [r.event_id for r in rows], timeout=1)


async def test_redelivered_rows_are_acked_and_stored_once(
    store: AuditStore, db: asyncpg.Connection
) -> None:
    poll_id = uuid.uuid4()
    rows = rows_for(poll_id, 3)
    original, redelivery, overlap = FakeMessage(), FakeMessage(), FakeMessage()
    async with running(store, max_events=1000, max_wait=0.01) as batcher:
        add(batcher, original, rows)
        await wait_settled([original])
        add(batcher, redelivery, rows)
        add(batcher, overlap, [rows[0], rows[0], *rows_for(poll_id, 1)])
        await wait_settled([redelivery, overlap])
    assert [m.acks for m in (original, redelivery, overlap)] == [1, 1, 1]
    count = await db.fetchval("SELECT count(*) FROM audit_log WHERE poll_id = $1", poll_id)
    assert count == 4


async def test_unstorable_message_is_rejected_and_the_rest_stored(
    store: AuditStore, db: asyncpg.Connection
) -> None:
    poll_id = uuid.uuid4()
    good_rows = rows_for(poll_id, 2)
    # Something the parser did not catch and PostgreSQL refuses every time.
    bad_row = rows_for(poll_id, 1)[0]._replace(data="{not json")
    good1, bad, good2 = FakeMessage(), FakeMessage(), FakeMessage()
    async with running(store, max_events=3, max_wait=3600) as batcher:
        add(batcher, good1, [good_rows[0]])
        add(batcher, bad, [bad_row])
        add(batcher, good2, [good_rows[1]])
        await wait_settled([good1, bad, good2])
    assert (good1.acks, good2.acks, bad.acks) == (1, 1, 0)
    assert bad.rejects == [False]
    assert good1.rejects == good2.rejects == []
    await wait_for_rows(db, [r.event_id for r in good_rows], timeout=1)
    stored_bad = await db.fetchval(
        "SELECT count(*) FROM audit_log WHERE event_id = $1", bad_row.event_id
    )
    assert stored_bad == 0


def _database_url(base: str, name: str) -> str:
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@pytest.fixture
async def missing_database() -> AsyncIterator[tuple[str, str]]:
    """The URL of a database that does not exist yet (its name, to create it later)."""
    name = f"zephyr_audit_outage_{uuid.uuid4().hex[:10]}"
    try:
        yield name, _database_url(PG_ADMIN_URL, name)
    finally:
        admin = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def outage_store(missing_database: tuple[str, str]) -> AsyncIterator[AuditStore]:
    """A store whose database is missing: every INSERT fails until it is created."""
    _, url = missing_database
    store = AuditStore(load_settings(Settings, database_url=url))
    await store.open()
    try:
        yield store
    finally:
        await store.close()


OUTAGE_LIMITS = {"max_events": 1000, "max_wait": 0.001, "retry_base": 0.02}


async def test_database_outage_keeps_messages_unacked_and_retries(
    missing_database: tuple[str, str], outage_store: AuditStore
) -> None:
    name, url = missing_database
    counting = CountingStore(outage_store)
    messages = [FakeMessage(), FakeMessage()]
    rows = rows_for(uuid.uuid4(), 4)
    async with running(counting, **OUTAGE_LIMITS) as batcher:
        add(batcher, messages[0], rows[:2])
        add(batcher, messages[1], rows[2:])
        await eventually(lambda: len(counting.calls) >= 3, interval=0.01, what="failures")
        assert not any(m.settled for m in messages)

        # The database comes back: the same batch is stored and only then acked.
        admin = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        await asyncio.to_thread(Migrations("audit_sink").upgrade, url)
        await wait_settled(messages)
    assert [m.acks for m in messages] == [1, 1]
    assert all(m.rejects == [] for m in messages)
    conn = await asyncpg.connect(url)
    try:
        stored = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE event_id = ANY($1)",
            [r.event_id for r in rows],
        )
    finally:
        await conn.close()
    assert stored == 4


async def test_close_gives_up_after_the_timeout_without_settling(
    outage_store: AuditStore,
) -> None:
    message = FakeMessage()
    async with running(outage_store, **OUTAGE_LIMITS) as batcher:
        add(batcher, message, rows_for(uuid.uuid4(), 1))
        assert await batcher.stop(timeout=0.3) is False
        # Neither acked nor dead-lettered: the broker requeues it when the channel closes.
        assert not message.settled
