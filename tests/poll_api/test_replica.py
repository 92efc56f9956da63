"""poll-api on a real streaming replica: it reads from it, and from the primary when the replica
lags past the bound, stops, or fails a read; then back. The fallback and recovery times are printed
(docs/reliability.md, "Read replica", quotes them). Helpers: tests/poll_api/replica_support.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.poll_api.replica_support import (
    CHECK,
    MAX_LAG,
    Pair,
    app_on,
    connect,
    fallback,
    metric,
    replica_reads,
    settings_for,
    settled,
    started_pair,
    tally,
    total,
    total_is,
)
from tests.poll_api.utils import create_poll, running_app
from tests.support.eventually import eventually
from tests.support.isolation import Resources

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    with started_pair() as started:
        yield started


async def test_reads_come_from_the_replica_and_move_to_the_primary_when_it_lags(
    resources: Resources, pair: Pair
) -> None:
    async with app_on(pair) as client, connect(pair.replica_url) as replica:
        poll = await create_poll(client)
        await tally(pair, poll, [1, 0, 0], version=1)
        await settled(pair, client, poll, want=1)

        await replica.execute("SELECT pg_wal_replay_pause()")
        lagging = metric("zephyr_poll_api_primary_reads_total", reason="replica_lagging")
        try:
            await tally(pair, poll, [2, 1, 0], version=2)  # on the primary only
            written = time.monotonic()
            served = replica_reads()
            assert await total(client, poll) == 1  # stale: the replica answered
            assert replica_reads() == served + 1
            # Past the lag bound, the same read is answered by the primary, with the new data.
            await eventually(lambda: total_is(client, poll, 3), timeout=60, what="new data")
            after_pause = time.monotonic() - written
            assert fallback() == 1
            assert metric("zephyr_poll_api_read_replica_lag_seconds") > MAX_LAG
            assert metric("zephyr_poll_api_primary_reads_total", reason="replica_lagging") > (
                lagging
            )
            assert await total(client, poll) == 3
        finally:
            await replica.execute("SELECT pg_wal_replay_resume()")
        resumed = time.monotonic()
        await eventually(lambda: fallback() == 0, timeout=60, what="back on the replica")
        back = time.monotonic() - resumed
        served = replica_reads()
        assert await total(client, poll) == 3
        assert replica_reads() == served + 1
    print(
        f"\nreplica paused: reads on the primary {after_pause:.2f}s after the write "
        f"(bound {MAX_LAG}s, check every {CHECK}s); back on the replica {back:.2f}s after resume"
    )


async def test_reads_keep_answering_when_the_replica_stops(
    resources: Resources, pair: Pair
) -> None:
    async with app_on(pair) as client:
        poll = await create_poll(client)
        await tally(pair, poll, [1, 1, 0], version=1)
        await settled(pair, client, poll, want=2)

        errors = metric("zephyr_poll_api_primary_reads_total", reason="replica_error")
        down = metric("zephyr_poll_api_primary_reads_total", reason="replica_down")
        pair.replica.stop("immediate")
        stopped = time.monotonic()
        try:
            assert await total(client, poll) == 2  # answered, by the primary if need be
            await eventually(lambda: fallback() == 1, timeout=30, what="fallback")
            noticed = time.monotonic() - stopped
            await tally(pair, poll, [1, 1, 1], version=2)
            assert await total(client, poll) == 3  # the primary's data, at once
            moved = metric("zephyr_poll_api_primary_reads_total", reason="replica_error") - errors
            moved += metric("zephyr_poll_api_primary_reads_total", reason="replica_down") - down
            assert moved >= 2
        finally:
            pair.replica.start()
        started = time.monotonic()
        await eventually(lambda: fallback() == 0, timeout=60, what="back on the replica")
        back = time.monotonic() - started
        served = replica_reads()
        errors = metric("zephyr_poll_api_primary_reads_total", reason="replica_error")
        await eventually(lambda: total_is(client, poll, 3), timeout=30, what="total 3")
        assert replica_reads() > served
        # The pool's connections of before the restart were dropped, not tried and failed.
        assert metric("zephyr_poll_api_primary_reads_total", reason="replica_error") == errors
    print(
        f"\nreplica stopped: fallback gauge set {noticed:.2f}s after the stop (every read "
        f"answered 200); back on the replica {back:.2f}s after its start"
    )


async def test_a_read_failing_on_the_replica_runs_again_on_the_primary(
    resources: Resources, pair: Pair
) -> None:
    async with app_on(pair) as client:
        poll = await create_poll(client)
        await tally(pair, poll, [0, 0, 4], version=1)
        await settled(pair, client, poll, want=4)
    # A process whose monitor checks once at start and then not for 30 s: the replica's death
    # is noticed by the read itself.
    slow_checks = settings_for(pair).model_copy(update={"read_replica_check_seconds": 30.0})
    async with running_app(slow_checks) as (_, client):
        await eventually(lambda: fallback() == 0, timeout=30, what="replica in use")
        served = replica_reads()
        assert await total(client, poll) == 4
        assert replica_reads() == served + 1
        errors = metric("zephyr_poll_api_primary_reads_total", reason="replica_error")
        pair.replica.stop("immediate")
        try:
            assert await total(client, poll) == 4
            assert metric("zephyr_poll_api_primary_reads_total", reason="replica_error") == (
                errors + 1
            )
            assert fallback() == 1  # marked down by that read, 30 s before the next check
            down = metric("zephyr_poll_api_primary_reads_total", reason="replica_down")
            assert await total(client, poll) == 4  # straight to the primary now
            assert metric("zephyr_poll_api_primary_reads_total", reason="replica_down") == down + 1
        finally:
            pair.replica.start()
