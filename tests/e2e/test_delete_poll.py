"""Deleting a poll removes it from every table of every service; duplicating copies only its
questions. A host account signs in, runs a poll with a quiz and voters, and deletes it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import httpx
import pytest

from tests.support.eventually import eventually
from tests.support.isolation import Resources
from tests.support.participant import Participant
from tests.support.procs import Stack

pytestmark = pytest.mark.e2e

QUESTIONS: list[dict[str, Any]] = [
    {"kind": "single", "prompt": "Colour?", "options": ["red", "blue"]},
    {
        "kind": "quiz",
        "prompt": "2 + 2?",
        "options": ["3", "4"],
        "correct": [1],
        "time_limit_s": 30,
        "points": 1000,
    },
]


async def _rows_per_table(db: asyncpg.Connection, poll_id: str) -> dict[str, int]:
    """Rows about the poll in every table that has a `poll_id` column, and `polls` itself."""
    tables = await db.fetch(
        "SELECT table_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND column_name = 'poll_id'"
    )
    counts = {"polls": await db.fetchval("SELECT count(*) FROM polls WHERE id = $1", poll_id)}
    for row in tables:
        name = row["table_name"]
        counts[name] = await db.fetchval(
            f'SELECT count(*) FROM "{name}" WHERE poll_id = $1',
            poll_id,
        )
    return counts


async def _outbox_about(db: asyncpg.Connection, poll_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT message_type, body::text AS body FROM outbox"
        " WHERE body->'poll'->>'id' = $1 OR body->'events'->0->>'poll_id' = $1",
        poll_id,
    )
    return [{"type": r["message_type"], **json.loads(r["body"])} for r in rows]


async def test_a_deleted_poll_leaves_no_row_in_any_service_but_its_deletion_record(
    stack: Stack, e2e_resources: Resources
) -> None:
    api = stack["poll_api"].url
    async with httpx.AsyncClient(base_url=api, timeout=10) as http:
        signed = await http.post(
            "/api/auth/signup",
            json={"email": "deleter@example.org", "password": "a long enough one"},
        )
        assert signed.status_code == 201, signed.text
        auth = {"Authorization": f"Bearer {signed.json()['access_token']}"}
        created = await http.post("/api/polls", json={"questions": QUESTIONS}, headers=auth)
        assert created.status_code == 201, created.text
        poll = created.json()
        room, poll_id = poll["room_code"], poll["id"]
        assert (await http.post(f"/api/polls/{room}/open", headers=auth)).status_code == 200
        ws_url = f"ws://127.0.0.1:{stack['ws_gateway'].port}/ws/{room}"
        people = [Participant(ws_url, f"del-{i}") for i in range(6)]
        await asyncio.gather(*(p.connect() for p in people))
        await asyncio.gather(*(p.join() for p in people))
        for i, p in enumerate(people):
            assert (await p.vote(i % 2))["type"] == "vote_accepted"
        for step in ("close", "questions/1/show", "open"):
            assert (await http.post(f"/api/polls/{room}/{step}", headers=auth)).status_code == 200
        for i, p in enumerate(people):
            answer = await p.answer({"question": 1, "option": i % 2})
            assert answer["type"] == "vote_accepted", answer
        assert (await http.post(f"/api/polls/{room}/close", headers=auth)).status_code == 200

        db = await asyncpg.connect(e2e_resources.database_url)
        try:

            async def everything_stored() -> bool:
                counts = await _rows_per_table(db, poll_id)
                return all(
                    counts.get(t, 0) > 0
                    for t in ("participants", "votes", "tallies", "quiz_scores", "audit_log")
                )

            await eventually(everything_stored, timeout=30, what="the poll's rows everywhere")
            copy = await http.post(f"/api/polls/{room}/duplicate", headers=auth)
            assert copy.status_code == 201, copy.text
            duplicate = copy.json()
            assert [q["spec"]["prompt"] for q in duplicate["questions"]] == ["Colour?", "2 + 2?"]
            assert duplicate["questions"][1]["spec"]["correct"] == [1]
            assert duplicate["room_code"] != room and duplicate["host_token"] != poll["host_token"]
            assert {q["status"] for q in duplicate["questions"]} == {"draft"}

            stranger = await http.delete(
                f"/api/polls/{room}", headers={"Authorization": "Bearer " + "x" * 43}
            )
            assert stranger.status_code == 403
            deleted = await http.delete(f"/api/polls/{room}", headers=auth)
            assert deleted.status_code == 204, deleted.text

            async def all_gone() -> dict[str, int] | None:
                counts = await _rows_per_table(db, poll_id)
                return None if any(counts.values()) else counts

            counts = await eventually(all_gone, timeout=30, what="every table empty of the poll")
            assert {
                "polls",
                "questions",
                "participants",
                "ballots",
                "votes",
                "tallies",
                "quiz_scores",
                "audit_log",
            } <= set(counts)
            record = await db.fetchrow(
                "SELECT poll_id, data FROM audit_log WHERE kind = 'poll.deleted'"
                " AND data->>'deleted_poll_id' = $1",
                poll_id,
            )
            assert record is not None and record["poll_id"] is None
            assert json.loads(record["data"])["room_code"] == room
            # What the outbox still holds about it is the deletion's own messages only.
            kinds = {(m["type"], m.get("event")) for m in await _outbox_about(db, poll_id)}
            assert kinds <= {
                ("zephyr.poll_event.v3", "deleted"),
                ("zephyr.poll_state_changed.v2", None),
            }, kinds
            # The duplicate is untouched, and the room is gone for everyone.
            assert (
                await db.fetchval("SELECT count(*) FROM polls WHERE id = $1", duplicate["id"]) == 1
            )
        finally:
            await db.close()
        assert (await http.get(f"/api/polls/{room}")).status_code == 404
        late = await people[0].answer({"question": 0, "option": 0})
        assert late["type"] == "error", late
        mine = (await http.get("/api/me/polls", headers=auth)).json()["polls"]
        assert [p["room_code"] for p in mine] == [duplicate["room_code"]]
    for p in people:
        await p.close()
