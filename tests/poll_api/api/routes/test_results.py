"""Results as JSON and CSV: for the host, or anyone once revealed; read from `tallies`."""

from __future__ import annotations

import csv
import io
from typing import Any

import asyncpg
import httpx

from tests.poll_api.utils import audit_kinds, bearer, create_poll, outbox_rows, set_tally


async def _set_tally(
    db: asyncpg.Connection, poll_id: str, *, epoch: int, counts: list[int], version: int
) -> None:
    """What vote-worker would have recorded: `counts[i]` answers for option i."""
    spec = {"kind": "single", "prompt": "q", "options": [f"o{i}" for i in range(len(counts))]}
    answers = [{"kind": "single", "option": i} for i, n in enumerate(counts) for _ in range(n)]
    await set_tally(db, poll_id, spec, answers, epoch=epoch, version=version)


async def _act(client: httpx.AsyncClient, created: dict[str, Any], action: str) -> None:
    resp = await client.post(
        f"/api/polls/{created['room_code']}/{action}", headers=bearer(created["host_token"])
    )
    assert resp.status_code == 200, resp.text


async def test_host_gets_zeros_before_any_vote(client: httpx.AsyncClient) -> None:
    created = await create_poll(client)
    resp = await client.get(
        f"/api/polls/{created['room_code']}/results", headers=bearer(created["host_token"])
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["counts"] == [0, 0, 0]
    assert body["total"] == 0
    assert body["version"] == 0
    assert body["poll_id"] == created["id"]
    assert [o["percent"] for o in body["options"]] == [0.0, 0.0, 0.0]


async def test_results_need_the_host_until_revealed(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    created = await create_poll(client, options=["Yes", "No"])
    await _set_tally(db, created["id"], epoch=0, counts=[3, 1], version=4)
    code = created["room_code"]
    for suffix in ("results", "results.csv"):
        anonymous = await client.get(f"/api/polls/{code}/{suffix}")
        assert anonymous.status_code == 401
        assert anonymous.headers["WWW-Authenticate"] == "Bearer"
        wrong = await client.get(f"/api/polls/{code}/{suffix}", headers=bearer("nope"))
        assert wrong.status_code == 403
    assert audit_kinds(await outbox_rows(db, created["id"])).count("security.auth_failed") == 4
    public = (await client.get(f"/api/polls/{code}")).json()
    assert public["results"] is None

    host = await client.get(f"/api/polls/{code}/results", headers=bearer(created["host_token"]))
    assert host.status_code == 200
    body = host.json()
    assert body["counts"] == [3, 1]
    assert body["total"] == 4
    assert body["version"] == 4
    assert body["revealed"] is False
    assert body["options"] == [
        {"index": 0, "text": "Yes", "count": 3, "percent": 75.0},
        {"index": 1, "text": "No", "count": 1, "percent": 25.0},
    ]

    await _act(client, created, "reveal")
    anyone = await client.get(f"/api/polls/{code}/results")
    assert anyone.status_code == 200
    assert anyone.json()["counts"] == [3, 1]
    assert (await client.get(f"/api/polls/{code}/results.csv")).status_code == 200
    public = (await client.get(f"/api/polls/{code}")).json()
    assert public["results"]["counts"] == [3, 1]
    assert public["results"]["total"] == 4
    assert public["results"]["options"][0]["percent"] == 75.0


async def test_a_tally_of_an_older_epoch_counts_as_zeros(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    created = await create_poll(client, options=["A", "B"])
    await _act(client, created, "open")
    await _set_tally(db, created["id"], epoch=0, counts=[5, 2], version=7)
    await _act(client, created, "reset")  # epoch 1; the worker has not caught up yet
    resp = await client.get(
        f"/api/polls/{created['room_code']}/results", headers=bearer(created["host_token"])
    )
    body = resp.json()
    assert body["epoch"] == 1
    assert body["counts"] == [0, 0]
    assert body["total"] == 0


async def test_csv_is_escaped_and_formula_safe(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    options = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", 'Plain, "quoted"\ttext']
    created = await create_poll(client, options=options)
    await _set_tally(db, created["id"], epoch=0, counts=[1, 0, 2, 0, 1], version=3)
    resp = await client.get(
        f"/api/polls/{created['room_code']}/results.csv", headers=bearer(created["host_token"])
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/csv")
    disposition = resp.headers["content-disposition"]
    assert disposition.startswith("attachment")
    assert created["room_code"] in disposition
    rows = list(csv.reader(io.StringIO(resp.text)))
    # The first version's columns come first, so its readers keep working.
    assert rows[0][:4] == ["option_index", "option", "count", "percent"]
    assert [r[1] for r in rows[1:]] == [
        '\'=HYPERLINK("http://x")',
        "'+1",
        "'-2",
        "'@SUM(A1)",
        'Plain, "quoted"\ttext',
    ]
    assert [r[2] for r in rows[1:]] == ["1", "0", "2", "0", "1"]
    assert [r[3] for r in rows[1:]] == ["25.0", "0.0", "50.0", "0.0", "25.0"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2", "3", "4"]


async def test_results_of_unknown_poll_are_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/polls/ZZZZZZ/results")).status_code == 404
    assert (await client.get("/api/polls/ZZZZZZ/results.csv")).status_code == 404
