"""`zephyr-audit tail` and `zephyr-audit export`, end to end on the real servers."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from contracts import AuditBatch, AuditEvent
from contracts.topology import AUDIT_EXCHANGE, audit_routing_key
from tests.support.isolation import Resources
from tests.support.procs import free_port
from zephyr_runtime.amqp import ConfirmedPublisher, connect, declare_topology

CLI = str(Path(sys.executable).parent / "zephyr-audit")


def run_cli(
    resources: Resources, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **resources.env()}
    return subprocess.run(
        [CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def event(kind: str = "vote.recorded", **fields: object) -> AuditEvent:
    base: dict[str, object] = {
        "event_id": uuid.uuid4(),
        "kind": kind,
        "service": "test",
        "occurred_at": datetime.now(UTC),
        "poll_id": uuid.uuid4(),
        "correlation_id": "cli-test",
        "data": {"n": 1, "text": 'é, "quoted"'},
    }
    base.update(fields)
    return AuditEvent.model_validate(base)


@pytest.fixture(scope="module")
async def publisher(ops_resources: Resources) -> AsyncIterator[ConfirmedPublisher]:
    connection = await connect(ops_resources.amqp_url, name="audit-cli-test")
    channel = await connection.channel()
    await declare_topology(channel)
    await channel.close()
    publisher = ConfirmedPublisher(connection)
    try:
        yield publisher
    finally:
        await publisher.close()
        await connection.close()


async def publish(publisher: ConfirmedPublisher, events: list[AuditEvent]) -> None:
    await publisher.publish(
        AuditBatch(events=events),
        exchange=AUDIT_EXCHANGE,
        routing_key=audit_routing_key("test"),
        correlation_id="cli-test",
    )


def broker_now() -> datetime:
    """The broker's clock (Erlang system time), which stamps the stream's chunks."""
    exe = shutil.which("rabbitmqctl")
    assert exe, "rabbitmqctl not found: the test needs the local RabbitMQ server"
    out = subprocess.run(
        [exe, "eval", "erlang:system_time(millisecond)."],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return datetime.fromtimestamp(int(out.strip()) / 1000, UTC)


def ids(stdout: str) -> list[str]:
    return [json.loads(line)["event_id"] for line in stdout.splitlines()]


@pytest.mark.e2e
async def test_tail_replays_from_first_an_offset_and_a_time(
    ops_resources: Resources, publisher: ConfirmedPublisher
) -> None:
    early = [event("poll.created"), event(), event("vote.rejected")]
    late = [event(), event("security.auth_failed")]
    await publish(publisher, early)
    # Stream time offsets have one-second resolution and point at chunks: leave a gap. A
    # chunk's timestamp is the broker's clock, which can stand apart from the OS clock (an
    # Erlang VM keeps its offset when the OS clock steps after it started): ask the broker.
    await asyncio.sleep(2.2)
    between = (await asyncio.to_thread(broker_now)).isoformat().replace("+00:00", "Z")
    await asyncio.sleep(1.1)
    await publish(publisher, late)
    everything = [str(e.event_id) for e in (*early, *late)]

    def tail(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(ops_resources, "tail", *args)

    first = await asyncio.to_thread(tail, "--from", "first", "--idle", "3")
    assert first.returncode == 0, first.stderr
    assert ids(first.stdout) == everything
    line = json.loads(first.stdout.splitlines()[0])
    assert line["kind"] == "poll.created" and line["data"]["text"] == 'é, "quoted"'

    from_time = await asyncio.to_thread(tail, "--from", between, "--idle", "8")
    skew = (datetime.now(UTC) - await asyncio.to_thread(broker_now)).total_seconds()
    assert ids(from_time.stdout) == everything[3:], (between, f"OS - broker clock {skew:.3f} s")

    from_offset = await asyncio.to_thread(tail, "--from", "1", "--idle", "8")  # 2nd message
    assert ids(from_offset.stdout) == everything[3:]

    limited = await asyncio.to_thread(tail, "--from", "first", "--limit", "2")
    assert limited.returncode == 0 and ids(limited.stdout) == everything[:2]

    kinds = await asyncio.to_thread(tail, "--from", "first", "--idle", "3", "--kind", "vote.")
    assert [json.loads(x)["kind"] for x in kinds.stdout.splitlines()] == [
        "vote.recorded",
        "vote.rejected",
        "vote.recorded",
    ]

    bad = await asyncio.to_thread(tail, "--from", "yesterday")
    assert bad.returncode == 2 and "not a stream offset" in bad.stderr


async def insert_events(database_url: str, events: list[AuditEvent]) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.executemany(
            "INSERT INTO audit_log (event_id, kind, service, occurred_at, poll_id, "
            "participant_id, correlation_id, client_ip, data) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)",
            [
                (
                    e.event_id,
                    e.kind,
                    e.service,
                    e.occurred_at,
                    e.poll_id,
                    e.participant_id,
                    e.correlation_id,
                    e.client_ip,
                    json.dumps(e.data),
                )
                for e in events
            ],
        )
    finally:
        await conn.close()


@pytest.mark.e2e
async def test_export_pages_through_a_time_range_as_jsonl_and_csv(
    ops_resources: Resources, tmp_path: Path
) -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    # 60 events, three per minute (sharing a timestamp) (pages must not skip or repeat).
    events = [event(occurred_at=start + timedelta(minutes=i // 3)) for i in range(60)]
    outside = [
        event(occurred_at=start - timedelta(seconds=1)),
        event(occurred_at=start + timedelta(hours=5)),
    ]
    await insert_events(ops_resources.database_url, events + outside)
    expected = sorted(events, key=lambda e: (e.occurred_at, str(e.event_id)))

    out = tmp_path / "audit.jsonl"
    done = await asyncio.to_thread(
        run_cli,
        ops_resources,
        "export",
        "--since",
        "2026-11-01T00:00Z",
        "--until",
        "2026-11-01T01:00Z",
        "--format",
        "jsonl",
        "--page-size",
        "7",
        "--output",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert ids(out.read_text()) == [str(e.event_id) for e in expected]
    assert "exported 60/60 events (100%)" in done.stderr
    first = json.loads(out.read_text().splitlines()[0])
    assert first["data"] == {"n": 1, "text": 'é, "quoted"'} and first["recorded_at"]

    as_csv = await asyncio.to_thread(
        run_cli,
        ops_resources,
        "export",
        "--since",
        "2026-11-01",
        "--until",
        "2026-11-01T01:00:00+00:00",
        "--format",
        "csv",
        "--quiet",
    )
    assert as_csv.returncode == 0 and as_csv.stderr == ""
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["event_id"] for r in rows] == [str(e.event_id) for e in expected]
    assert json.loads(rows[0]["data"])["text"] == 'é, "quoted"'
    assert rows[0]["participant_id"] == ""


def test_export_without_a_database_says_so_in_one_line(ops_resources: Resources) -> None:
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    done = run_cli(ops_resources, "export", "--since", "2026-11-01", "--database-url", dead)
    assert done.returncode == 1
    assert done.stderr.startswith("zephyr-audit: cannot connect to PostgreSQL")
    assert "Traceback" not in done.stderr
