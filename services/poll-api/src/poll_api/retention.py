"""`python -m poll_api retention`: delete polls whose `expires_at` has passed.

A poll expires `POLL_API_DEFAULT_EXPIRY_DAYS` (30) days after its creation unless it was created
with its own `expires_in_days`; `--grace-days` keeps expired polls that much longer. poll-api
deletes only what it owns (`polls` with their `questions`, and published `outbox` rows older
than the cut-off) plus the deleted polls' Redis keys (a cache of nothing any more). The other
owners then delete their rows of polls that no longer exist: `python -m vote_worker retention`
(participants, ballots, votes, tallies) and `python -m audit_sink retention` (audit_log). Run
the three in that order.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from zephyr_runtime.keys import RedisKeys

log = logging.getLogger(__name__)

DELETE_EXPIRED = """
WITH doomed AS (
    SELECT id FROM polls WHERE expires_at < $1
    ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED
)
DELETE FROM polls p USING doomed WHERE p.id = doomed.id RETURNING p.id, p.room_code, p.next_qid
"""
COUNT_EXPIRED = "SELECT count(*) FROM polls WHERE expires_at < $1"
DELETE_OLD_OUTBOX = """
DELETE FROM outbox WHERE id IN (
    SELECT id FROM outbox WHERE published_at IS NOT NULL AND published_at < $1 LIMIT $2
)
"""


@dataclass
class PollRetentionReport:
    polls: int = 0
    outbox_rows: int = 0
    redis_keys: int = 0


# Longer than a reconciler pass or a relay batch takes (poll_api.reconciler, relay).
RESURRECT_WINDOW_S = 3.0


async def forget_cached(
    redis: aioredis.Redis, keys: RedisKeys, deleted: list[tuple[UUID, str, int]]
) -> int:
    names = [
        name
        for poll_id, room_code, next_qid in deleted
        for name in (
            keys.room(room_code),
            keys.poll_state(poll_id),
            *(keys.tally(poll_id, qid) for qid in range(next_qid)),
            keys.nicknames(poll_id),
            keys.my_votes(poll_id),
            keys.vote_seq(poll_id),
            keys.qa_board(poll_id),
            keys.qa_seq(poll_id),
        )
    ]
    return int(await redis.delete(*names)) if names else 0


async def delete_expired_polls(
    database_url: str,
    *,
    cutoff: datetime,
    redis: aioredis.Redis | None = None,
    keys: RedisKeys | None = None,
    batch_size: int = 500,
    dry_run: bool = False,
    settle_seconds: float = RESURRECT_WINDOW_S,
) -> PollRetentionReport:
    """Delete polls with expires_at < cutoff, batch by batch (each its own transaction).

    Their Redis keys are deleted twice: at once, and again `settle_seconds` later, since a
    state reconciler or relay pass that read a poll just before it was deleted may write its
    state back meanwhile (nothing would ever remove that key again)."""
    report = PollRetentionReport()
    forgotten: list[tuple[UUID, str, int]] = []
    conn = await asyncpg.connect(database_url)
    try:
        if dry_run:
            report.polls = int(await conn.fetchval(COUNT_EXPIRED, cutoff))
            return report
        while True:
            async with conn.transaction():
                rows = await conn.fetch(DELETE_EXPIRED, cutoff, batch_size)
            report.polls += len(rows)
            if rows and redis is not None and keys is not None:
                batch = [(r["id"], r["room_code"], r["next_qid"]) for r in rows]
                forgotten += batch
                try:
                    report.redis_keys += await forget_cached(redis, keys, batch)
                except (RedisError, OSError) as exc:  # a cache: stale keys only cost memory
                    log.warning("could not delete cached keys", extra={"error": repr(exc)})
            if len(rows) < batch_size:
                break
        if forgotten and redis is not None and keys is not None:
            await asyncio.sleep(settle_seconds)
            try:
                report.redis_keys += await forget_cached(redis, keys, forgotten)
            except (RedisError, OSError) as exc:
                log.warning("could not delete cached keys", extra={"error": repr(exc)})
        while True:
            status = await conn.execute(DELETE_OLD_OUTBOX, cutoff, batch_size * 10)
            deleted = int(status.rsplit(" ", 1)[1])
            report.outbox_rows += deleted
            if deleted < batch_size * 10:
                break
    finally:
        await conn.close()
    return report


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="python -m poll_api retention", description="Delete expired polls."
    )
    cli.add_argument("--grace-days", type=float, default=0.0, help="keep expired polls longer")
    cli.add_argument("--batch-size", type=int, default=500)
    cli.add_argument("--dry-run", action="store_true", help="only count the polls to delete")
    return cli


async def run(argv: list[str], database_url: str, redis_url: str, redis_prefix: str) -> int:
    args = parser().parse_args(argv)
    cutoff = datetime.now(UTC) - timedelta(days=args.grace_days)
    redis = aioredis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
    try:
        report = await delete_expired_polls(
            database_url,
            cutoff=cutoff,
            redis=redis,
            keys=RedisKeys(redis_prefix),
            batch_size=args.batch_size,
            dry_run=args.dry_run,
        )
    finally:
        await redis.aclose()
    verb = "would delete" if args.dry_run else "deleted"
    log.info(
        "retention: %s %d expired polls",
        verb,
        report.polls,
        extra={"cutoff": cutoff.isoformat(), **report.__dict__},
    )
    return 0


def main(argv: list[str]) -> int:
    """Entry point for `python -m poll_api retention [...]`."""
    from poll_api.settings import Settings
    from zephyr_runtime.jsonlog import configure_logging
    from zephyr_runtime.settings import load_settings

    settings = load_settings(Settings)
    configure_logging("poll-api", settings.log_level)
    try:
        return asyncio.run(
            run(argv, settings.asyncpg_dsn(), settings.redis_url, settings.redis_prefix)
        )
    except (OSError, asyncpg.PostgresError) as exc:
        log.error("retention failed: %s: %s", type(exc).__name__, exc)
        return 1
