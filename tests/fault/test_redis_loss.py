"""Redis loses its data under a running stack: (a) FLUSHALL, (b) SIGKILL and a restart without
persistence. Votes are safe in PostgreSQL; vote-worker writes back what the gateway kept of
each participant (vote_worker.rebuild) and the gateway waits for it (ws_gateway.nicknames).

Participants join and answer four questions (one a quiz); then Redis loses everything. While
the rebuild runs a connected participant answers again and another tries to change their quiz
answer. Then: the host's counts (poll-api's participant count, the answer totals, the Redis
tallies the screens get) are the truth again within 5 s (the acceptance: a bounded wait);
every participant who resumes sees their own answers in `joined`; a second join with a taken
nickname in another case is refused `nickname_taken`; the quiz answer stays locked; nothing
acknowledged is lost. The measured times are printed (docs/reliability.md has them).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from tests.fault.conftest import start_stack
from tests.fault.scenario import api_call
from tests.fault.servers import PrivateServers
from tests.support.eventually import eventually
from tests.support.isolation import Resources
from tests.support.participant import Participant
from tests.support.procs import Stack
from zephyr_runtime.keys import RedisKeys

pytestmark = [pytest.mark.fault, pytest.mark.timeout(600)]

PARTICIPANTS = 40
QUIZ_QID = 2
QUESTIONS: list[dict[str, Any]] = [
    {"kind": "single", "prompt": "Which way?", "options": ["N", "E", "S", "W"]},
    {"kind": "multiple", "prompt": "Pick two", "options": ["A", "B", "C"], "max_choices": 2},
    {
        "kind": "quiz",
        "prompt": "2 + 2?",
        "options": ["3", "4"],
        "correct": [1],
        "time_limit_s": 600,
    },
    {"kind": "rating", "prompt": "How good?", "min": 1, "max": 5},
]
MEASURED: list[str] = []


@pytest.fixture(scope="module")
def loss_stack(
    fault_resources: Resources, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    stack = start_stack(fault_resources, tmp_path_factory.mktemp("redis-loss-logs"), gateways=1)
    try:
        yield stack
    finally:
        stack.stop_all()
        if MEASURED:
            print("\nRedis loss, seconds after the loss:\n" + "\n".join(MEASURED))


def answers_of(n: int) -> list[tuple[int, dict[str, Any]]]:
    """Participant n's answers in order: question 0 twice (the second counts), then 1, 2, 3."""
    return [
        (0, {"option": n % 4}),
        (0, {"option": (n + 1) % 4}),
        (1, {"options": [n % 3]}),
        (QUIZ_QID, {"option": n % 2}),
        (3, {"value": 1 + n % 5}),
    ]


async def answered(
    p: Participant, question: int, fields: dict[str, Any], timeout: float = 30
) -> dict[str, Any]:
    """Answer until the reply is not `unavailable` (Redis may be empty); that reply."""
    deadline = time.monotonic() + timeout
    while True:
        reply = await p.answer(fields, question=question)
        if reply["type"] != "error" or reply["code"] != "unavailable":
            return reply
        assert time.monotonic() < deadline, f"still unavailable: {reply}"
        await asyncio.sleep(float(reply.get("retry_after") or 0.2))


async def joined(
    url: str, nickname: str, token: str | None, timeout: float = 30
) -> tuple[Participant, dict[str, Any]]:
    """Join (or resume) until the answer is not `unavailable`: (participant, frame)."""
    deadline = time.monotonic() + timeout
    while True:
        p = Participant(url, nickname, resume_token=token)
        await p.connect()
        try:
            return p, await p.join()
        except RuntimeError:
            refusal: dict[str, Any] = p.errors[-1]
            await p.close()
            if refusal["code"] != "unavailable":
                return p, refusal
            assert time.monotonic() < deadline, f"still unavailable: {refusal}"
            await asyncio.sleep(float(refusal.get("retry_after") or 0.2))


def mine(p: Participant) -> dict[int, dict[str, Any]]:
    """qid -> the answer that counts: the latest accepted, a quiz's first."""
    out: dict[int, dict[str, Any]] = {}
    for frame in p.accepted:
        if frame["qid"] != QUIZ_QID or frame["qid"] not in out:
            out[frame["qid"]] = frame["answer"]
    return out


async def stored(database_url: str, poll_id: str) -> dict[str, Any]:
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        poll = UUID(poll_id)
        votes = await conn.fetch(
            "SELECT participant_id, qid, vote_id, answer::text AS answer FROM votes"
            " WHERE poll_id = $1",
            poll,
        )
        ballots = await conn.fetch("SELECT vote_id FROM ballots WHERE poll_id = $1", poll)
        participants = await conn.fetchval(
            "SELECT count(*) FROM participants WHERE poll_id = $1", poll
        )
    finally:
        await conn.close()
    totals: dict[int, int] = {}
    for row in votes:
        totals[row["qid"]] = totals.get(row["qid"], 0) + 1
    return {
        "counted": {(str(r["participant_id"]), r["qid"]): str(r["vote_id"]) for r in votes},
        "ballots": {str(r["vote_id"]) for r in ballots},
        "participants": participants,
        "totals": totals,
    }


def nothing_lost(people: list[Participant], truth: dict[str, Any]) -> bool:
    """Every accepted vote is stored, and the one counted is the participant's latest (a
    quiz's first) accepted one."""
    for p in people:
        if not {str(a["vote_id"]) for a in p.accepted} <= truth["ballots"]:
            return False
        last: dict[int, str] = {}
        for frame in p.accepted:
            if frame["qid"] != QUIZ_QID or frame["qid"] not in last:
                last[frame["qid"]] = str(frame["vote_id"])
        for qid, vote_id in last.items():
            if truth["counted"].get((str(p.participant_id), qid)) != vote_id:
                return False
    return True


@pytest.mark.parametrize("loss", ["flushall", "restart"])
async def test_after_redis_loses_its_data_identities_answers_and_counts_come_back(
    loss: str, loss_stack: Stack, private_servers: PrivateServers, fault_resources: Resources
) -> None:
    api = loss_stack["poll_api"].url
    created = await api_call("POST", f"{api}/api/polls", json={"questions": QUESTIONS})
    poll = created.json()
    room, host = poll["room_code"], {"Authorization": f"Bearer {poll['host_token']}"}
    for index in range(len(QUESTIONS)):
        await api_call("POST", f"{api}/api/polls/{room}/questions/{index}/open", headers=host)
    url = f"ws://127.0.0.1:{loss_stack['ws_gateway'].port}/ws/{room}"

    people: list[Participant] = []
    for n in range(PARTICIPANTS):
        p, frame = await joined(url, f"Player {n}", None)
        assert frame["type"] == "joined", frame
        people.append(p)
    for n, p in enumerate(people):
        for question, fields in answers_of(n):
            assert (await answered(p, question, fields))["type"] == "vote_accepted"

    async def all_stored() -> bool:
        truth = await stored(fault_resources.database_url, poll["id"])
        return truth["participants"] == PARTICIPANTS and nothing_lost(people, truth)

    await eventually(all_stored, timeout=60, what="every answer and participant stored")

    # ---- the loss ----------------------------------------------------------------------
    keys = RedisKeys(fault_resources.redis_prefix)
    if loss == "flushall":
        client = aioredis.from_url(private_servers.redis.url)
        await client.flushall()
        await client.aclose()
    else:
        await asyncio.to_thread(private_servers.redis.restart)  # SIGKILL, no persistence
    lost_at = time.monotonic()
    seen: dict[str, float] = {}

    async def watch() -> None:
        """When the sentinel, the count, the totals and the Redis tallies are right again."""
        client = aioredis.from_url(private_servers.redis.url, decode_responses=True)
        try:
            async with httpx.AsyncClient(base_url=api, timeout=5) as http:
                while len(seen) < 3:
                    truth = await stored(fault_resources.database_url, poll["id"])
                    if "rebuilt" not in seen and await client.exists(keys.alive()):
                        seen["rebuilt"] = time.monotonic() - lost_at
                    view = await http.get(f"/api/polls/{room}")
                    count = view.json().get("participant_count") if view.is_success else None
                    if "count" not in seen and count == truth["participants"]:
                        seen["count"] = time.monotonic() - lost_at
                    results = await http.get(f"/api/polls/{room}/results", headers=host)
                    totals = {q["index"]: q["total"] for q in results.json()["questions"]}
                    cached = [
                        await client.hget(keys.tally(poll["id"], qid), "total")
                        for qid in range(len(QUESTIONS))
                    ]
                    expected = [truth["totals"].get(qid, 0) for qid in range(len(QUESTIONS))]
                    if (
                        "totals" not in seen
                        and [totals[i] for i in range(len(QUESTIONS))] == expected
                        and [int(c) if c is not None else None for c in cached] == expected
                    ):
                        seen["totals"] = time.monotonic() - lost_at
                    await asyncio.sleep(0.05)
        finally:
            await client.aclose()

    watching = asyncio.create_task(watch())
    # Meanwhile: a connected participant answers again (newer than anything in Postgres), a
    # newcomer tries a taken nickname in another case, and a quiz answer tries to change.
    again = await answered(people[0], 0, {"option": 3})
    assert again["type"] == "vote_accepted", again
    locked = await answered(people[1], QUIZ_QID, {"option": 0})
    assert (locked["type"], locked.get("code")) == ("error", "answer_locked"), locked
    _, taken = await joined(url, "PLAYER 7", None)
    assert (taken["type"], taken.get("code")) == ("error", "nickname_taken"), taken

    async def host_sees_the_truth() -> bool:
        return len(seen) == 3

    try:
        await eventually(host_sees_the_truth, timeout=5, what="the host's counts back")
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)

    # ---- every participant resumes and sees their own answers ------------------------------
    first_resume: float | None = None
    for p in people:
        await p.close()
        back, frame = await joined(url, "anything", p.resume_token)
        first_resume = first_resume or time.monotonic() - lost_at
        assert frame["type"] == "joined", frame
        assert frame["participant_id"] == p.participant_id
        shown = {a["qid"]: a["answer"] for a in frame["my_answers"]}
        assert shown == mine(p), (p.nickname, shown, mine(p))
        await back.close()

    async def none_lost() -> bool:
        return nothing_lost(people, await stored(fault_resources.database_url, poll["id"]))

    all_resumed = time.monotonic() - lost_at
    await eventually(none_lost, timeout=60, what="nothing acknowledged lost")
    MEASURED.append(
        f"  {loss:9} rebuilt {seen['rebuilt']:.2f}  participant count {seen['count']:.2f}"
        f"  totals {seen['totals']:.2f}  first resume {first_resume or 0:.2f}"
        f"  all {PARTICIPANTS} resumed {all_resumed:.2f}"
    )
