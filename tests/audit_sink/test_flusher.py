"""The micro-batcher against the real database: size and time flushes, retries, isolation."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from audit_sink.batcher import AuditBatcher
from audit_sink.migrate import upgrade
from audit_sink.rows import AuditRow, to_row
from audit_sink.store import AuditStore
from tests.audit_sink.conftest import make_event, wait_for_rows
from tests.support.isolation import PG_ADMIN_URL, Resources


class FakeDelivery:
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
    audit_store = AuditStore(resources.database_url)
    await audit_store.open()
    try:
        yield audit_store
    finally:
        await audit_store.close()


def rows_for(poll_id: uuid.UUID, count: int) -> list[AuditRow]:
    return [to_row(make_event(poll_id)) for _ in range(count)]


async def wait_settled(deliveries: Sequence[FakeDelivery], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not all(d.settled for d in deliveries):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("deliveries were not settled")
        await asyncio.sleep(0.01)


async def test_flushes_when_the_batch_is_full(store: AuditStore, db: asyncpg.Connection) -> None:
    counting = CountingStore(store)
    batcher = AuditBatcher(counting, max_events=5, max_wait=3600)
    batcher.start()
    poll_id = uuid.uuid4()
    first, second = FakeDelivery(), FakeDelivery()
    rows = rows_for(poll_id, 6)
    try:
        batcher.add(first, rows[:3])
        batcher.add(second, rows[3:])
        await wait_settled([first, second])
        # One INSERT for both messages, long before the hour-long wait.
        assert counting.calls == [6]
        assert (first.acks, second.acks) == (1, 1)
        assert first.rejects == second.rejects == []
        await wait_for_rows(db, [r.event_id for r in rows], timeout=1)
    finally:
        await batcher.close(timeout=5)


async def test_flushes_a_small_batch_after_the_wait(
    store: AuditStore, db: asyncpg.Connection
) -> None:
    batcher = AuditBatcher(store, max_events=1000, max_wait=0.01)
    batcher.start()
    delivery = FakeDelivery()
    rows = rows_for(uuid.uuid4(), 2)
    try:
        batcher.add(delivery, rows)
        await wait_settled([delivery])
        assert delivery.acks == 1
        await wait_for_rows(db, [r.event_id for r in rows], timeout=1)
    finally:
        await batcher.close(timeout=5)


async def test_close_flushes_and_acks_what_is_pending(
    store: AuditStore, db: asyncpg.Connection
) -> None:
    batcher = AuditBatcher(store, max_events=1000, max_wait=3600)
    batcher.start()
    deliveries = [FakeDelivery() for _ in range(3)]
    rows = rows_for(uuid.uuid4(), 3)
    for delivery, row in zip(deliveries, rows, strict=True):
        batcher.add(delivery, [row])
    await asyncio.sleep(0.05)
    assert not any(d.settled for d in deliveries)

    await batcher.close(timeout=10)

    assert [d.acks for d in deliveries] == [1, 1, 1]
    await wait_for_rows(db, [r.event_id for r in rows], timeout=1)


async def test_redelivered_rows_are_acked_and_stored_once(
    store: AuditStore, db: asyncpg.Connection
) -> None:
    batcher = AuditBatcher(store, max_events=1000, max_wait=0.01)
    batcher.start()
    poll_id = uuid.uuid4()
    rows = rows_for(poll_id, 3)
    try:
        original, redelivery, overlap = FakeDelivery(), FakeDelivery(), FakeDelivery()
        batcher.add(original, rows)
        await wait_settled([original])
        batcher.add(redelivery, rows)
        batcher.add(overlap, [rows[0], rows[0], *rows_for(poll_id, 1)])
        await wait_settled([redelivery, overlap])
        assert [d.acks for d in (original, redelivery, overlap)] == [1, 1, 1]
        count = await db.fetchval("SELECT count(*) FROM audit_log WHERE poll_id = $1", poll_id)
        assert count == 4
    finally:
        await batcher.close(timeout=5)


async def test_unstorable_message_is_rejected_and_the_rest_stored(
    store: AuditStore, db: asyncpg.Connection
) -> None:
    batcher = AuditBatcher(store, max_events=3, max_wait=3600)
    batcher.start()
    poll_id = uuid.uuid4()
    good_rows = rows_for(poll_id, 2)
    # Something the parser did not catch and PostgreSQL refuses every time.
    bad_row = rows_for(poll_id, 1)[0]._replace(data="{not json")
    good1, bad, good2 = FakeDelivery(), FakeDelivery(), FakeDelivery()
    try:
        batcher.add(good1, [good_rows[0]])
        batcher.add(bad, [bad_row])
        batcher.add(good2, [good_rows[1]])
        await wait_settled([good1, bad, good2])
        assert (good1.acks, good2.acks, bad.acks) == (1, 1, 0)
        assert bad.rejects == [False]
        assert good1.rejects == good2.rejects == []
        await wait_for_rows(db, [r.event_id for r in good_rows], timeout=1)
        stored_bad = await db.fetchval(
            "SELECT count(*) FROM audit_log WHERE event_id = $1", bad_row.event_id
        )
        assert stored_bad == 0
    finally:
        await batcher.close(timeout=5)


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


async def test_database_outage_keeps_messages_unacked_and_retries(
    missing_database: tuple[str, str],
) -> None:
    name, url = missing_database
    outage_store = AuditStore(url)
    await outage_store.open()
    counting = CountingStore(outage_store)
    batcher = AuditBatcher(counting, max_events=1000, max_wait=0.001, retry_base=0.02)
    batcher.start()
    deliveries = [FakeDelivery(), FakeDelivery()]
    rows = rows_for(uuid.uuid4(), 4)
    try:
        batcher.add(deliveries[0], rows[:2])
        batcher.add(deliveries[1], rows[2:])
        while len(counting.calls) < 3:  # a few failed attempts
            await asyncio.sleep(0.01)
        assert not any(d.settled for d in deliveries)

        # The database comes back: the same batch is stored and only then acked.
        admin = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        await asyncio.to_thread(upgrade, url)
        await wait_settled(deliveries)
        assert [d.acks for d in deliveries] == [1, 1]
        assert all(d.rejects == [] for d in deliveries)
        conn = await asyncpg.connect(url)
        try:
            stored = await conn.fetchval(
                "SELECT count(*) FROM audit_log WHERE event_id = ANY($1)",
                [r.event_id for r in rows],
            )
        finally:
            await conn.close()
        assert stored == 4
    finally:
        await batcher.close(timeout=5)
        await outage_store.close()


async def test_close_gives_up_after_the_timeout_without_settling(
    missing_database: tuple[str, str],
) -> None:
    _, url = missing_database
    outage_store = AuditStore(url)
    await outage_store.open()
    batcher = AuditBatcher(outage_store, max_events=1000, max_wait=0.001, retry_base=0.02)
    batcher.start()
    delivery = FakeDelivery()
    batcher.add(delivery, rows_for(uuid.uuid4(), 1))
    try:
        await batcher.close(timeout=0.3)
        # Neither acked nor dead-lettered: the broker requeues it when the channel closes.
        assert not delivery.settled
    finally:
        await outage_store.close()
