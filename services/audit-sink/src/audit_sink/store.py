"""audit_log writes: one INSERT of a whole batch through UNNEST arrays, idempotent by event id.

A `poll.deleted` record (a host deleted the poll; it names the poll in `data.deleted_poll_id`
and has no `poll_id` itself) deletes the poll's other events once it is stored: the record is
all the log keeps of it. Events of the poll that arrive later still are removed by retention.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from uuid import UUID

import asyncpg

from audit_sink.rows import AuditRow
from zephyr_runtime.dbmetrics import observe_queries, record_asyncpg_pool
from zephyr_runtime.pg import create_pool
from zephyr_runtime.settings import ServiceSettings

INSERT_ROWS = """
INSERT INTO audit_log (
    event_id, kind, service, occurred_at, poll_id, participant_id,
    correlation_id, client_ip, data
)
SELECT e.event_id, e.kind, e.service, e.occurred_at, e.poll_id, e.participant_id,
       e.correlation_id, e.client_ip, e.data::jsonb
FROM unnest(
    $1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::uuid[], $6::uuid[],
    $7::text[], $8::text[], $9::text[]
) AS e(event_id, kind, service, occurred_at, poll_id, participant_id,
       correlation_id, client_ip, data)
ON CONFLICT (event_id) DO NOTHING
"""

PURGE_POLLS = "DELETE FROM audit_log WHERE poll_id = ANY($1::uuid[])"


def _deleted_polls(rows: Sequence[AuditRow]) -> list[UUID]:
    out = []
    for row in rows:
        if row.kind != "poll.deleted":
            continue
        try:
            out.append(UUID(str(json.loads(row.data).get("deleted_poll_id"))))
        except (ValueError, AttributeError):
            continue  # a malformed record deletes nothing
    return out


# Errors that come back every time for the same rows; anything else (connection lost, server
# shutting down, deadlock, timeout) may pass and is retried.
_DETERMINISTIC = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    asyncpg.ProgramLimitExceededError,
)


class UnstorableRows(Exception):
    """PostgreSQL refused these rows for what they contain; retrying cannot help."""


class AuditStore:
    """A small asyncpg pool; connects lazily so the service starts while Postgres is down."""

    def __init__(self, settings: ServiceSettings, *, max_size: int = 4) -> None:
        self._settings = settings
        self._max_size = max_size
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        self._pool = await create_pool(
            self._settings,
            application_name="audit-sink",
            min_size=0,
            max_size=self._max_size,
            init=observe_queries,
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("AuditStore is not open")
        return self._pool

    async def record_pool_use(self) -> None:
        """Sampled into `zephyr_db_pool_connections`."""
        record_asyncpg_pool(self._pool)

    async def ping(self) -> None:
        await self.pool.fetchval("SELECT 1")

    async def insert(self, rows: Sequence[AuditRow]) -> int:
        """Insert rows not stored yet; returns how many were new. Raises UnstorableRows."""
        if not rows:
            return 0
        # Sorted by event id so that concurrent replicas take index locks in one order.
        unique = sorted({row.event_id: row for row in reversed(rows)}.values())
        columns = list(zip(*unique, strict=True))
        try:
            status = await self.pool.execute(INSERT_ROWS, *columns)
        except _DETERMINISTIC as exc:
            raise UnstorableRows(f"{type(exc).__name__}: {exc}") from exc
        deleted_polls = _deleted_polls(unique)
        if deleted_polls:
            await self.purge_polls(deleted_polls)
        # The status is "INSERT 0 <rows>".
        return int(status.rsplit(" ", 1)[1])

    async def purge_polls(self, polls: list[UUID]) -> int:
        """Delete every event about these polls (the append-only trigger lets this one
        transaction through); returns how many."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SET LOCAL zephyr.audit_retention = 'on'")
            status = await conn.execute(PURGE_POLLS, polls)
        return int(status.rsplit(" ", 1)[1])
