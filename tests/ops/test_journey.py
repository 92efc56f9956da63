"""One search finds a vote's whole journey: correlation ids in the logs, one trace per vote."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.ops.journey import services_logging, traces
from tests.support.eventually import eventually
from tests.support.isolation import Resources
from tests.support.procs import Stack

pytestmark = pytest.mark.e2e


async def next_frame(ws: ClientConnection, kind: str, timeout: float = 30) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            frame = orjson.loads(await ws.recv())
            if frame["type"] in (kind, "error"):
                assert frame["type"] == kind, frame
                return dict(frame)


async def audit_correlation(database_url: str, kind: str, **where: str) -> str | None:
    conn = await asyncpg.connect(database_url)
    try:
        clause = " AND ".join(f"data->>'{k}' = ${i + 2}" for i, k in enumerate(where))
        sql = "SELECT correlation_id FROM audit_log WHERE kind = $1" + (
            f" AND {clause}" if clause else ""
        )
        return await conn.fetchval(sql, kind, *where.values())
    finally:
        await conn.close()


async def test_one_vote_is_followed_through_logs_and_one_trace(
    traced_stack: Stack, ops_resources: Resources, traces_dir: Path
) -> None:
    api = traced_stack["poll_api"].url
    tag = uuid.uuid4().hex[:12]
    create_id, open_id, ws_id = f"create-{tag}", f"open-{tag}", f"ws-{tag}"
    async with httpx.AsyncClient(base_url=api, timeout=10) as http:
        created = await http.post(
            "/api/polls",
            json={"question": "Traced?", "options": ["yes", "no"]},
            headers={"X-Request-ID": create_id},
        )
        assert created.status_code == 201, created.text
        assert created.headers["X-Request-ID"] == create_id
        poll = created.json()
        url = f"ws://127.0.0.1:{traced_stack['ws_gateway'].port}/ws/{poll['room_code']}"
        async with connect(url, additional_headers={"X-Request-ID": ws_id}) as ws:
            await ws.send(orjson.dumps({"type": "join", "nickname": "tracer"}).decode())
            await next_frame(ws, "joined")
            opened = await http.post(
                f"/api/polls/{poll['room_code']}/open",
                headers={"Authorization": f"Bearer {poll['host_token']}", "X-Request-ID": open_id},
            )
            assert opened.status_code == 200, opened.text
            await next_frame(ws, "poll_state")
            await ws.send(orjson.dumps({"type": "vote", "option": 1}).decode())
            accepted = await next_frame(ws, "vote_accepted")
            # A tally pushed before the vote was stored may come first: wait for the vote's.
            async with asyncio.timeout(30):
                while (await next_frame(ws, "tally"))["counts"] != [0, 1]:
                    pass

    db = ops_resources.database_url
    vote_id = accepted["vote_id"]

    async def vote_audited() -> bool:
        return await audit_correlation(db, "vote.recorded", vote_id=vote_id) is not None

    await eventually(vote_audited, timeout=30)
    # The vote's batch came from one connection: it carries that connection's id end to end.
    assert await audit_correlation(db, "vote.recorded", vote_id=vote_id) == ws_id

    # Logs: one search per id finds every service the request or the vote went through.
    async def logged(correlation_id: str, expected: set[str]) -> bool:
        return expected <= services_logging(traced_stack, correlation_id)

    await eventually(lambda: logged(ws_id, {"ws-gateway", "vote-worker", "audit-sink"}), timeout=30)
    everyone = {"poll-api", "ws-gateway", "vote-worker", "audit-sink"}
    await eventually(lambda: logged(open_id, everyone), timeout=30)

    # Traces: the vote's spans from three services share one trace id.
    def vote_trace() -> list[dict[str, Any]] | None:
        for trace in traces(traces_dir).values():
            if any(s["name"] == "votes publish" for s in trace):
                return trace
        return None

    async def vote_trace_complete() -> bool:
        trace = vote_trace()
        # Each process exports its spans in its own batches: wait for all three to arrive.
        return trace is not None and {"votes flush", "tally broadcast", "audit receive"} <= {
            s["name"] for s in trace
        }

    await eventually(vote_trace_complete, timeout=30)
    trace = vote_trace()
    assert trace is not None
    assert {s["service"] for s in trace} >= {"ws-gateway", "vote-worker", "audit-sink"}
    names = {(s["service"], s["name"]) for s in trace}
    assert ("vote-worker", "votes flush") in names
    assert ("ws-gateway", "tally broadcast") in names
    by_id = {s["span_id"]: s for s in trace}
    flush = next(s for s in trace if s["name"] == "votes flush")
    assert by_id[flush["parent_span_id"]]["name"].startswith("votes")  # parent: receive/publish

    # The HTTP request's trace reaches the consumers of its outbox messages.
    async def open_trace_complete() -> bool:
        for trace in traces(traces_dir).values():
            names = {s["name"] for s in trace}
            if "POST /api/polls/{room_code}/open" in names:
                return {s["service"] for s in trace} >= everyone
        return False

    await eventually(open_trace_complete, timeout=30)
