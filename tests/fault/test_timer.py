"""A timed question closes at `closes_at` exactly, though poll-api and the worker are SIGKILLed
while it runs: answers sent before count, answers sent after are refused and never acknowledged.

The gateway's accept script compares Redis TIME with the question's deadline in the step that
accepts, so the deadline holds without poll-api; poll-api, started again after the deadline,
records the close it missed (closed_by timer, closed_at = closes_at).
"""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson
import pytest
from websockets.asyncio.client import connect

from tests.fault.scenario import api_call
from tests.support.eventually import eventually
from tests.support.isolation import Resources
from tests.support.procs import Stack
from tests.support.truth import read_questions, read_truth

pytestmark = [pytest.mark.fault, pytest.mark.timeout(300)]

TIME_LIMIT_S = 6
PARTICIPANTS = 20


async def _answer_until(url: str, name: str, stop_at: float) -> list[dict[str, Any]]:
    """Join, then answer again and again until `stop_at` (wall clock); every answer with the
    wall-clock time it was sent and the reply it got."""
    sent: list[dict[str, Any]] = []
    async with connect(url, open_timeout=15, compression=None) as ws:
        await ws.send(orjson.dumps({"type": "join", "nickname": name}).decode())
        while True:
            joined = orjson.loads(await ws.recv())
            if joined["type"] == "joined":
                break
        n = 0
        while time.time() < stop_at:
            n += 1
            cvid = f"{name}-{n}"
            frame = {"type": "vote", "option": n % 3, "client_vote_id": cvid}
            at = time.time()
            await ws.send(orjson.dumps(frame).decode())
            while True:
                reply = orjson.loads(await asyncio.wait_for(ws.recv(), 20))
                if reply["type"] in {"vote_accepted", "error"}:
                    break
            sent.append({"sent_at": at, "reply": reply, "option": n % 3})
            await asyncio.sleep(0.02)
    return sent


async def test_a_timed_question_closes_exactly_while_poll_api_and_worker_are_killed(
    fault_stack: Stack, fault_resources: Resources
) -> None:
    api = fault_stack["poll_api"]
    worker = fault_stack["vote_worker"]
    spec = {"kind": "single", "prompt": "Quick!", "options": ["a", "b", "c"]}
    created = await api_call(
        "POST", f"{api.url}/api/polls", json={"questions": [{**spec, "time_limit_s": TIME_LIMIT_S}]}
    )
    poll = created.json()
    room, headers = poll["room_code"], {"Authorization": f"Bearer {poll['host_token']}"}
    gateway = fault_stack["ws_gateway"]
    url = f"ws://127.0.0.1:{gateway.port}/ws/{room}"
    opened = await api_call("POST", f"{api.url}/api/polls/{room}/open", headers=headers)
    closes_at = datetime.fromisoformat(opened.json()["questions"][0]["closes_at"]).timestamp()
    assert 0 < closes_at - time.time() <= TIME_LIMIT_S

    answering = asyncio.gather(
        *(_answer_until(url, f"t{i}", closes_at + 1.5) for i in range(PARTICIPANTS))
    )
    await asyncio.sleep(1.0)
    api.kill(signal.SIGKILL)
    worker.kill(signal.SIGKILL)
    results = await answering
    # Both come back after the deadline: poll-api has a close to catch up on.
    api.start()
    worker.start()
    await asyncio.to_thread(api.wait_ready, 180)
    await asyncio.to_thread(worker.wait_ready, 180)

    answers = [a for person in results for a in person]
    accepted = [a for a in answers if a["reply"]["type"] == "vote_accepted"]
    after = [a for a in answers if a["sent_at"] >= closes_at]
    early = [a for a in answers if a["sent_at"] < closes_at - 1.0]
    assert accepted and after and early
    # Invariant 4: nothing sent after the deadline was acknowledged.
    assert all(a["reply"]["type"] == "error" for a in after), [
        a for a in after if a["reply"]["type"] != "error"
    ][:3]
    assert {a["reply"]["code"] for a in after} == {"poll_closed"}
    # Before it, poll-api and the worker being down refused nothing.
    assert all(a["reply"]["type"] == "vote_accepted" for a in early)

    poll_id = poll["id"]
    accepted_ids = {str(a["reply"]["vote_id"]) for a in accepted}

    async def all_stored() -> bool:
        truth = await read_truth(fault_resources.database_url, poll_id, 3)
        return accepted_ids <= truth.ballots

    await eventually(all_stored, timeout=120)
    questions = await read_questions(fault_resources.database_url, poll_id)
    question = questions[0]
    assert question.tally == question.recomputed()
    assert question.recomputed()["total"] == PARTICIPANTS
    # Invariant 2: each participant's counted answer is the last one acknowledged to them.
    truth = await read_truth(fault_resources.database_url, poll_id, 3)
    last = {
        str([a for a in person if a["reply"]["type"] == "vote_accepted"][-1]["reply"]["vote_id"])
        for person in results
    }
    assert {vote["vote_id"] for vote in truth.votes.values()} == last

    async def closed_by_timer() -> bool:
        conn = await asyncpg.connect(fault_resources.database_url)
        try:
            row = await conn.fetchrow(
                "SELECT status, closed_by, closed_at, closes_at FROM questions WHERE poll_id = $1",
                UUID(poll_id),
            )
        finally:
            await conn.close()
        assert row is not None
        return (
            row["status"] == "closed"
            and row["closed_by"] == "timer"
            and (row["closed_at"] == row["closes_at"])
        )

    await eventually(closed_by_timer, timeout=30)
    public = await api_call("GET", f"{api.url}/api/polls/{room}")
    assert public.json()["status"] == "closed"
