"""`python -m vote_worker retention`: delete the rows of polls that no longer exist.

poll-api's retention deletes expired polls (and a host may delete one: vote-worker then
deletes its rows at once, on the `deleted` poll event, with `delete_rows_of`); vote-worker
owns `participants`, `ballots`, `votes`, `tallies` and the quiz scores (`quiz_points`,
`quiz_scores`, `quiz_boards`) and removes their rows for those polls here (only the owner
writes its tables).
Each batch of polls is one transaction that locks their `tallies` rows first (one per question),
in (poll_id, qid) order like the flusher does, so it never deadlocks with a flush.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg

log = logging.getLogger(__name__)

ORPHAN_POLLS = """
SELECT poll_id FROM (
    SELECT poll_id FROM tallies
    UNION SELECT poll_id FROM participants
    UNION SELECT poll_id FROM votes
    UNION SELECT DISTINCT poll_id FROM ballots
    UNION SELECT poll_id FROM quiz_boards
    UNION SELECT poll_id FROM qa_boards
) AS owned
WHERE NOT EXISTS (SELECT 1 FROM polls p WHERE p.id = owned.poll_id)
ORDER BY poll_id
LIMIT $1
"""
TABLES = (
    "ballots",
    "votes",
    "participants",
    "tallies",
    "quiz_points",
    "quiz_scores",
    "quiz_boards",
    "qa_votes",
    "qa_items",
    "qa_boards",
)
# Table names are constants above, never input.
_DELETES = {t: f"DELETE FROM {t} WHERE poll_id = ANY($1::uuid[])" for t in TABLES}  # noqa: S608


@dataclass
class WorkerRetentionReport:
    polls: int = 0
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))


async def delete_rows_of(conn: asyncpg.Connection, polls: list[UUID]) -> dict[str, int]:
    """Delete every row of these polls in vote-worker's tables, in one transaction that locks
    their tally rows first (as a flush does); the rows deleted per table."""
    deleted = {}
    async with conn.transaction():
        await conn.execute(
            "SELECT 1 FROM tallies WHERE poll_id = ANY($1::uuid[])"
            " ORDER BY poll_id, qid FOR UPDATE",
            polls,
        )
        for table in TABLES:
            status = await conn.execute(_DELETES[table], polls)
            deleted[table] = int(status.rsplit(" ", 1)[1])
    return deleted


async def delete_orphaned_rows(
    conn: asyncpg.Connection, *, batch_size: int = 200
) -> WorkerRetentionReport:
    report = WorkerRetentionReport()
    while True:
        polls = [row["poll_id"] for row in await conn.fetch(ORPHAN_POLLS, batch_size)]
        if not polls:
            return report
        for table, rows in (await delete_rows_of(conn, polls)).items():
            report.rows[table] += rows
        report.polls += len(polls)
        if len(polls) < batch_size:
            return report


async def run(argv: list[str], dsn: str) -> int:
    cli = argparse.ArgumentParser(
        prog="python -m vote_worker retention",
        description="Delete the participants, answers, tallies and quiz scores of deleted polls.",
    )
    cli.add_argument("--batch-size", type=int, default=200)
    args = cli.parse_args(argv)
    conn = await asyncpg.connect(dsn)
    try:
        report = await delete_orphaned_rows(conn, batch_size=args.batch_size)
    finally:
        await conn.close()
    log.info(
        "retention: deleted the rows of %d deleted polls",
        report.polls,
        extra={"rows": report.rows},
    )
    return 0


def main(argv: list[str]) -> int:
    from vote_worker.settings import SERVICE_NAME, Settings
    from zephyr_runtime.jsonlog import configure_logging
    from zephyr_runtime.settings import load_settings

    settings = load_settings(Settings)
    configure_logging(SERVICE_NAME, settings.log_level)
    try:
        return asyncio.run(run(argv, settings.asyncpg_dsn()))
    except (OSError, asyncpg.PostgresError) as exc:
        log.error("retention failed: %s: %s", type(exc).__name__, exc)
        return 1
