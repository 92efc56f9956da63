"""Helpers for poll-api tests: a running app with an HTTP client, factories, outbox reads."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI

from contracts.aggregates import encode_counters, recompute
from contracts.answers import ANSWER_ADAPTER
from contracts.questions import parse_question
from poll_api.main import create_app
from poll_api.settings import Settings

CLIENT_IP = "203.0.113.7"


def app_settings(**overrides: Any) -> Settings:
    """Settings from the session's ZEPHYR_* environment, with quick background loops."""
    values: dict[str, Any] = {"relay_poll_seconds": 0.2, "reconcile_interval_seconds": 0.2}
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app with its lifespan running (relay, reconciler) and an in-process HTTP client."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(
            app=app, raise_app_exceptions=False, client=(CLIENT_IP, 40000)
        )
        async with httpx.AsyncClient(
            transport=transport, base_url="http://poll-api.test"
        ) as client:
            yield app, client


async def create_poll(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"question": "Best colour?", "options": ["Red", "Green", "Blue"]}
    payload.update(body)
    resp = await client.post("/api/polls", json=payload)
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()
    return data


async def create_run(
    client: httpx.AsyncClient, questions: list[dict[str, Any]], **body: Any
) -> dict[str, Any]:
    resp = await client.post("/api/polls", json={"questions": questions, **body})
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()
    return data


async def set_tally(
    db: asyncpg.Connection,
    poll_id: str,
    spec: dict[str, Any],
    answers: list[dict[str, Any]],
    *,
    qid: int = 0,
    epoch: int = 0,
    version: int = 1,
) -> dict[str, Any]:
    """What vote-worker would have recorded for these answers to question `qid` (its counters
    and its tally, from contracts.aggregates); returns the tally."""
    question = parse_question(spec)
    aggregate = recompute(question, [ANSWER_ADAPTER.validate_python(a) for a in answers])
    tally = dict(aggregate.tally())
    counts = [int(c) for c in tally.get("counts", [])]
    await db.execute(
        """
        INSERT INTO tallies (poll_id, qid, kind, epoch, counts, total, version, counters,
                             aggregate)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb)
        ON CONFLICT (poll_id, qid) DO UPDATE
        SET kind = excluded.kind, epoch = excluded.epoch, counts = excluded.counts,
            total = excluded.total, version = excluded.version, counters = excluded.counters,
            aggregate = excluded.aggregate
        """,
        uuid.UUID(poll_id),
        qid,
        question.kind,
        epoch,
        counts,
        aggregate.total,
        version,
        json.dumps(encode_counters(aggregate.counters())),
        json.dumps(tally),
    )
    return tally


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def outbox_rows(db: asyncpg.Connection, poll_id: str) -> list[dict[str, Any]]:
    """Outbox rows about one poll (events, live state and audit), oldest first."""
    rows = await db.fetch(
        """
        SELECT id, message_id, exchange, routing_key, message_type, body::text AS body,
               headers::text AS headers, published_at, attempts
        FROM outbox
        WHERE body->'poll'->>'id' = $1 OR body->'events'->0->>'poll_id' = $1
        ORDER BY id
        """,
        poll_id,
    )
    out = []
    for row in rows:
        item = dict(row)
        item["body"] = json.loads(item["body"])
        item["headers"] = json.loads(item["headers"])
        out.append(item)
    return out


def audit_kinds(rows: list[dict[str, Any]]) -> list[str]:
    return [e["kind"] for r in rows if "events" in r["body"] for e in r["body"]["events"]]
