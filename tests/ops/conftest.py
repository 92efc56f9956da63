"""Operations tests: a stack of real processes with traces to files and debug logs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.ops.seed import Seeded, days_ago, seed_audit, seed_outbox, seed_poll
from tests.support import isolation
from tests.support.isolation import Resources
from tests.support.procs import Stack, supervised


@pytest.fixture(scope="module")
def ops_resources() -> Iterator[Resources]:
    with isolation.provisioned("ops") as res:
        yield res


@pytest.fixture(scope="module")
def traces_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("traces")


@pytest.fixture(scope="module")
def traced_stack(
    ops_resources: Resources, traces_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The four services with every span written to `traces_dir` and DEBUG logs."""
    env = {
        **ops_resources.env(),
        "ZEPHYR_OTEL_EXPORTER": "file",
        "ZEPHYR_OTEL_ENDPOINT": str(traces_dir),
        "ZEPHYR_LOG_LEVEL": "DEBUG",
    }
    with supervised(env, tmp_path_factory.mktemp("ops-logs")) as running:
        yield running.start_all()


@pytest.fixture
async def seeded_db() -> AsyncIterator[tuple[Resources, Seeded]]:
    """A fresh migrated database with 3 polls (expired 40 and 10 days ago, and one live), their
    participants, ballots, votes, tallies and audit events, one audit event about no poll and two
    outbox rows (one published a day ago)."""
    res = await isolation.create("bk")
    try:
        await asyncio.to_thread(isolation.migrate, res)
        seeded = Seeded()
        conn = await asyncpg.connect(res.database_url)
        try:
            for days in (40, 10, -20):
                await seed_poll(conn, seeded, expires_at=days_ago(days))
            seeded.audit[None] = [await seed_audit(conn, "security.origin_refused", None)]
            await seed_outbox(conn, days_ago(1))
            await seed_outbox(conn, None)
        finally:
            await conn.close()
        yield res, seeded
    finally:
        await isolation.destroy(res)
