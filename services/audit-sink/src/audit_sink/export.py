"""Reading audit_log for exports: pages in (occurred_at, event_id) order, JSON lines or CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Literal

import asyncpg

ExportFormat = Literal["jsonl", "csv"]
COLUMNS = (
    "event_id",
    "kind",
    "service",
    "occurred_at",
    "poll_id",
    "participant_id",
    "correlation_id",
    "client_ip",
    "data",
    "recorded_at",
)
COUNT_SQL = """
SELECT count(*) FROM audit_log
WHERE occurred_at >= $1 AND ($2::timestamptz IS NULL OR occurred_at < $2)
"""
FIRST_PAGE_SQL = """
SELECT event_id, kind, service, occurred_at, poll_id, participant_id, correlation_id,
       client_ip, data, recorded_at
FROM audit_log
WHERE occurred_at >= $1 AND ($2::timestamptz IS NULL OR occurred_at < $2)
ORDER BY occurred_at, event_id LIMIT $3
"""
NEXT_PAGE_SQL = """
SELECT event_id, kind, service, occurred_at, poll_id, participant_id, correlation_id,
       client_ip, data, recorded_at
FROM audit_log
WHERE occurred_at >= $1 AND ($2::timestamptz IS NULL OR occurred_at < $2)
  AND (occurred_at, event_id) > ($4, $5)
ORDER BY occurred_at, event_id LIMIT $3
"""


async def count_events(conn: asyncpg.Connection, since: datetime, until: datetime | None) -> int:
    return int(await conn.fetchval(COUNT_SQL, since, until))


async def event_pages(
    conn: asyncpg.Connection, since: datetime, until: datetime | None, page_size: int = 5000
) -> AsyncIterator[list[asyncpg.Record]]:
    """Every event with since <= occurred_at < until, page by page (keyset pagination: each page
    starts after the last (occurred_at, event_id) seen, so a page costs the same anywhere)."""
    rows = await conn.fetch(FIRST_PAGE_SQL, since, until, page_size)
    while rows:
        yield rows
        if len(rows) < page_size:
            return
        last = rows[-1]
        rows = await conn.fetch(
            NEXT_PAGE_SQL, since, until, page_size, last["occurred_at"], last["event_id"]
        )


def _plain(record: asyncpg.Record) -> dict[str, Any]:
    row = dict(record)
    for key in ("event_id", "poll_id", "participant_id"):
        if row[key] is not None:
            row[key] = str(row[key])
    for key in ("occurred_at", "recorded_at"):
        row[key] = row[key].isoformat()
    row["data"] = json.loads(row["data"]) if isinstance(row["data"], str) else row["data"]
    return row


def jsonl_lines(rows: list[asyncpg.Record]) -> str:
    return "".join(json.dumps(_plain(r), ensure_ascii=False) + "\n" for r in rows)


def csv_header() -> str:
    out = io.StringIO()
    csv.writer(out).writerow(COLUMNS)
    return out.getvalue()


def csv_lines(rows: list[asyncpg.Record]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for record in rows:
        row = _plain(record)
        row["data"] = json.dumps(row["data"], ensure_ascii=False, separators=(",", ":"))
        writer.writerow(["" if row[c] is None else row[c] for c in COLUMNS])
    return out.getvalue()
