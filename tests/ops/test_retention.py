"""Retention: expired polls go with their votes, tallies, participants and audit events; each
owning service deletes its own rows."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import asyncpg
import pytest
import redis.asyncio as aioredis

from tests.ops.seed import Seeded, days_ago, seed_audit, snapshot
from tests.support.isolation import Resources
from zephyr_runtime.keys import RedisKeys


def run(module: str, *args: str, res: Resources) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, "retention", *args],
        env={**os.environ, **res.env()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def poll_ids(rows: list[tuple[object, ...]], column: int = 0) -> set[object]:
    return {row[column] for row in rows}


async def test_each_owner_deletes_the_rows_of_expired_polls(
    seeded_db: tuple[Resources, Seeded],
) -> None:
    res, seeded = seeded_db
    old, recent, live = seeded.polls  # expired 40 days ago, 10 days ago, expires in 20 days
    conn = await asyncpg.connect(res.database_url)
    try:
        ancient_orphan = await seed_audit(conn, "security.rate_limited", None, days_ago(45))
        room = await conn.fetchval("SELECT room_code FROM polls WHERE id = $1", old)
    finally:
        await conn.close()
    keys = RedisKeys(res.redis_prefix)
    redis = aioredis.from_url(res.redis_url)
    await redis.set(keys.room(room), str(old))
    await redis.hset(keys.poll_state(old), mapping={"status": "closed"})
    await redis.hset(keys.poll_state(live), mapping={"status": "closed"})

    dry = await asyncio.to_thread(run, "poll_api", "--grace-days", "15", "--dry-run", res=res)
    assert dry.returncode == 0, dry.stderr
    assert "would delete 1 expired polls" in dry.stderr
    assert len((await snapshot(res.database_url))["polls"]) == 3

    # poll-api: polls expired more than 15 days ago (and published outbox rows before that).
    done = await asyncio.to_thread(run, "poll_api", "--grace-days", "15", res=res)
    assert done.returncode == 0, done.stderr
    data = await snapshot(res.database_url)
    assert poll_ids(data["polls"]) == {recent, live}
    assert await redis.exists(keys.room(room), keys.poll_state(old)) == 0
    assert await redis.exists(keys.poll_state(live)) == 1
    # The worker's and the sink's rows stay until their owners run.
    assert old in poll_ids(data["ballots"], 1) and old in poll_ids(data["audit_log"], 4)

    done = await asyncio.to_thread(run, "vote_worker", res=res)
    assert done.returncode == 0, done.stderr
    data = await snapshot(res.database_url)
    for table, column in (("participants", 0), ("ballots", 1), ("votes", 0), ("tallies", 0)):
        assert poll_ids(data[table], column) == {recent, live}, table
    assert {row[0] for row in data["ballots"]} == set(seeded.votes[recent] + seeded.votes[live])

    done = await asyncio.to_thread(run, "audit_sink", "--days", "30", res=res)
    assert done.returncode == 0, done.stderr
    events = {row[0] for row in (await snapshot(res.database_url))["audit_log"]}
    kept = set(seeded.audit[recent] + seeded.audit[live] + seeded.audit[None])
    assert events == kept  # the old poll's events and the 45-day-old one are gone
    assert ancient_orphan not in events

    # Without grace, the poll expired 10 days ago goes too; the live one stays.
    for module in ("poll_api", "vote_worker", "audit_sink"):
        done = await asyncio.to_thread(run, module, res=res)
        assert done.returncode == 0, done.stderr
    data = await snapshot(res.database_url)
    for table, column in (("polls", 0), ("ballots", 1), ("tallies", 0), ("audit_log", 4)):
        assert poll_ids(data[table], column) - {None} == {live}, table
    # The unpublished outbox row is never deleted; the published one (a day old) is.
    assert [row[8] for row in data["outbox"]] == [None]  # published_at
    await redis.aclose()


async def test_audit_retention_is_the_only_way_past_the_append_only_trigger(
    seeded_db: tuple[Resources, Seeded],
) -> None:
    res, _ = seeded_db
    conn = await asyncpg.connect(res.database_url)
    try:
        before = await conn.fetchval("SELECT count(*) FROM audit_log")
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("DELETE FROM audit_log WHERE poll_id IS NULL")
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("UPDATE audit_log SET kind = 'x.y'")
        assert await conn.fetchval("SELECT count(*) FROM audit_log") == before
    finally:
        await conn.close()
