"""A Q&A board survives a SIGKILLed vote-worker, a SIGKILLed gateway, a broker restart and a Redis
restart without its data during its upvotes (issue 13): every acknowledged ask is stored once,
every acknowledged upvote is the stored one (0 lost), no item and no upvote is counted twice (0
duplicated), every score equals a recount of the stored upvotes, and the connected participants'
last boards show the stored scores.

An action whose reply was lost (its gateway died) is sent again until acknowledged: an ask with
the same `client_ask_id` (the same item), an upvote with the same `up` (a newer seq: latest wins).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from tests.fault.scenario import ScenarioContext, api_call, gateway_urls
from tests.fault.servers import PrivateServers
from tests.fault.test_faults import kill_gateway, kill_worker, restart_rabbitmq, restart_redis
from tests.support.isolation import Resources
from tests.support.participant import Participant
from tests.support.procs import Stack
from tests.support.qa import latest_board, qa_request, read_qa_truth

pytestmark = [pytest.mark.fault, pytest.mark.timeout(300)]

PEOPLE = 100
ASKERS = 12
UPVOTES_EACH = 20
# Each fault at a share of the planned answers: SIGKILLs, then the broker restarted (its
# connections forced closed, the services reconnect) and Redis restarted without its data.
FAULTS = ((0.2, kill_worker), (0.45, kill_gateway), (0.65, restart_rabbitmq), (0.85, restart_redis))
RETRYABLE = {"unavailable", "overloaded", "rate_limited", "not_joined"}


@dataclass
class QaPerson:
    urls: list[str]
    participant: Participant
    home: int
    acked: dict[str, bool] = field(default_factory=dict)  # item -> last acknowledged `up`
    asked: str | None = None
    reconnects: int = 0
    moved: int = 0  # times its connection was found lost after the first join

    async def ensure(self, deadline: float) -> None:
        if not self.participant.connected and self.participant.joined is not None:
            self.moved += 1
        while not self.participant.connected:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.participant.nickname} could not reconnect")
            try:
                await self.participant.connect(self.urls[self.home % len(self.urls)])
                await self.participant.join(timeout=10)
                return
            except (OSError, ConnectionError, TimeoutError, RuntimeError):
                await self.participant.close()
                self.home += 1
                self.reconnects += 1
                await asyncio.sleep(0.3)

    async def until_acked(self, frame: dict[str, Any], deadline: float) -> dict[str, Any]:
        while time.monotonic() < deadline:
            try:
                await self.ensure(deadline)
                reply = await qa_request(self.participant, frame, timeout=5)
            except (OSError, ConnectionError, ConnectionClosed, TimeoutError):
                await asyncio.sleep(0.2)
                continue
            if reply["type"] != "error":
                return reply
            if reply.get("code") not in RETRYABLE:
                raise AssertionError(f"{self.participant.nickname}: {reply}")
            await asyncio.sleep(float(reply.get("retry_after") or 0.3))
        raise TimeoutError(f"{self.participant.nickname}: {frame['type']} never acknowledged")


async def test_a_qa_board_loses_and_doubles_nothing_under_faults(
    fault_stack: Stack, private_servers: PrivateServers, fault_resources: Resources
) -> None:
    rng = random.Random(13)
    db = fault_resources.database_url
    api = fault_stack["poll_api"].url
    created = await api_call(
        "POST",
        f"{api}/api/polls",
        json={"question": "Q&A?", "options": ["a", "b"], "settings": {"qa_enabled": True}},
    )
    poll = created.json()
    urls = gateway_urls(fault_stack, poll["room_code"])
    people = [
        QaPerson(urls, Participant(urls[i % len(urls)], f"qa{i:03d}"), home=i % len(urls))
        for i in range(PEOPLE)
    ]
    deadline = time.monotonic() + 240
    injected: list[asyncio.Task[None]] = []
    await asyncio.gather(*(p.ensure(deadline) for p in people))
    try:
        asked = await asyncio.gather(
            *(
                p.until_acked(
                    {"type": "ask", "text": f"Question {i}?", "client_ask_id": f"ask-{i}"},
                    deadline,
                )
                for i, p in enumerate(people[:ASKERS])
            )
        )
        items = [a["item"] for a in asked]
        for person, item in zip(people, items, strict=False):
            person.asked = item

        def everyone_sees(count: int) -> bool:
            boards = [latest_board(p.participant) for p in people]
            return all(b is not None and len(b["items"]) == count for b in boards)

        while not everyone_sees(ASKERS):
            assert time.monotonic() < deadline, "the board never reached every screen"
            await asyncio.sleep(0.2)

        acked_total = 0

        async def upvoting(person: QaPerson) -> None:
            nonlocal acked_total
            others = [i for i in items if i != person.asked]
            for _ in range(UPVOTES_EACH):
                item = rng.choice(others)
                up = not person.acked.get(item, False)  # up, down, up again: changes
                reply = await person.until_acked(
                    {"type": "upvote", "item": item, "up": up}, deadline
                )
                assert reply["type"] == "upvoted" and reply["item"] == item, reply
                person.acked[item] = up
                acked_total += 1

        async def faults() -> None:
            # Each fault (a SIGKILL, then the restart) runs beside the load: the next one and
            # the upvotes go on while the killed service comes back.
            planned = PEOPLE * UPVOTES_EACH
            ctx = ScenarioContext(fault_stack, private_servers, fault_resources, poll, [], rng)
            for share, inject in FAULTS:
                while acked_total < share * planned:
                    await asyncio.sleep(0.02)
                injected.append(asyncio.create_task(inject(ctx)))

        await asyncio.gather(faults(), *(upvoting(p) for p in people))
        await asyncio.gather(*injected)
        assert sum(p.moved for p in people) > 0, "the gateway kill moved nobody"

        expected_votes = {
            (p.participant.participant_id, item): up for p in people for item, up in p.acked.items()
        }
        while True:
            truth = await read_qa_truth(db, poll["id"])
            if truth.votes == expected_votes:
                break
            missing = {k for k in expected_votes if k not in truth.votes}
            assert time.monotonic() < deadline, f"lost or different: {len(missing)} missing"
            await asyncio.sleep(0.5)
        assert set(truth.items) == set(items), "an ask was stored twice or lost"
        for item_id, row in truth.items.items():
            assert row["score"] == truth.recount[item_id], (item_id, row)
            ups = sum(1 for (_, i), up in expected_votes.items() if i == item_id and up)
            assert row["score"] == ups

        want = sorted((i, r["score"]) for i, r in truth.items.items())

        def screens_converged() -> bool:
            for p in people:
                board = latest_board(p.participant) if p.participant.connected else None
                shown = sorted((i["id"], i["score"]) for i in board["items"]) if board else want
                if shown != want:
                    return False
            return True

        while not screens_converged():
            assert time.monotonic() < deadline, "screens never showed the stored scores"
            await asyncio.sleep(0.3)
        print(
            f"\nqa under faults: {len(items)} asks, {acked_total} upvotes acknowledged,"
            f" {len(expected_votes)} stored votes as acknowledged, 0 lost, 0 duplicated;"
            f" {sum(p.moved for p in people)} participants moved to the other gateway"
        )
    finally:
        await asyncio.gather(*injected, return_exceptions=True)  # killed services are back
        await asyncio.gather(*(p.participant.close() for p in people))
