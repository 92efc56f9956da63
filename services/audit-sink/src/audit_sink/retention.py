"""`python -m audit_sink retention`: delete the audit events of deleted polls, and events about
no poll once older than `--days` (default 30, as long as the audit stream keeps them).

`audit_log` is append-only: its trigger lets a DELETE through only in a transaction that set
`zephyr.audit_retention = on`, which only this job does. Batches of `--batch-size` rows, each its
own transaction, so the table is never locked for long.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

log = logging.getLogger(__name__)

DELETE_OF_DELETED_POLLS = """
DELETE FROM audit_log WHERE event_id IN (
    SELECT a.event_id FROM audit_log a
    WHERE a.poll_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM polls p WHERE p.id = a.poll_id)
    LIMIT $1
)
"""
DELETE_OLD_WITHOUT_POLL = """
DELETE FROM audit_log WHERE event_id IN (
    SELECT event_id FROM audit_log WHERE poll_id IS NULL AND occurred_at < $2 LIMIT $1
)
"""


@dataclass
class AuditRetentionReport:
    of_deleted_polls: int = 0
    without_poll: int = 0


async def _delete_in_batches(conn: asyncpg.Connection, sql: str, batch: int, *args: object) -> int:
    total = 0
    while True:
        async with conn.transaction():
            await conn.execute("SET LOCAL zephyr.audit_retention = 'on'")
            status = await conn.execute(sql, batch, *args)
        deleted = int(status.rsplit(" ", 1)[1])
        total += deleted
        if deleted < batch:
            return total


async def delete_expired_events(
    conn: asyncpg.Connection, *, cutoff: datetime, batch_size: int = 5000
) -> AuditRetentionReport:
    return AuditRetentionReport(
        of_deleted_polls=await _delete_in_batches(conn, DELETE_OF_DELETED_POLLS, batch_size),
        without_poll=await _delete_in_batches(conn, DELETE_OLD_WITHOUT_POLL, batch_size, cutoff),
    )


async def run(argv: list[str], dsn: str) -> int:
    cli = argparse.ArgumentParser(
        prog="python -m audit_sink retention",
        description="Delete audit events of deleted polls and old events about no poll.",
    )
    cli.add_argument("--days", type=float, default=30.0, help="age of poll-less events to delete")
    cli.add_argument("--batch-size", type=int, default=5000)
    args = cli.parse_args(argv)
    cutoff = datetime.now(UTC) - timedelta(days=args.days)
    conn = await asyncpg.connect(dsn)
    try:
        report = await delete_expired_events(conn, cutoff=cutoff, batch_size=args.batch_size)
    finally:
        await conn.close()
    log.info("retention: audit events deleted", extra=dict(report.__dict__))
    return 0


def main(argv: list[str]) -> int:
    from audit_sink.settings import Settings
    from zephyr_runtime.jsonlog import configure_logging
    from zephyr_runtime.settings import load_settings

    settings = load_settings(Settings)
    configure_logging("audit-sink", settings.log_level)
    try:
        return asyncio.run(run(argv, settings.asyncpg_dsn()))
    except (OSError, asyncpg.PostgresError) as exc:
        log.error("retention failed: %s: %s", type(exc).__name__, exc)
        return 1
