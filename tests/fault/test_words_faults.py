"""A word cloud survives a SIGKILLed vote-worker, a SIGKILLed gateway, a broker restart and a Redis
restart while its answers change (issue 13): the answer stored for each participant is the last
one acknowledged (0 lost, latest wins), nobody is counted twice (0 duplicated: one stored answer
per participant), the stored aggregate equals a recomputation from the stored answers with the
moderation applied, and every connected screen ends on the stored tally.

An answer whose reply was lost (its gateway died) is sent again, with the same
`client_vote_id`, until acknowledged.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

import pytest
from websockets.exceptions import ConnectionClosed

from contracts.answers import ANSWER_ADAPTER
from tests.fault.scenario import ScenarioContext, api_call, gateway_urls
from tests.fault.servers import PrivateServers
from tests.fault.test_faults import kill_gateway, kill_worker, restart_rabbitmq, restart_redis
from tests.support.host import bearer
from tests.support.isolation import Resources
from tests.support.participant import Participant
from tests.support.procs import Stack
from tests.support.truth import read_questions

pytestmark = [pytest.mark.fault, pytest.mark.timeout(300)]

PEOPLE = 100
ANSWERS_EACH = 12
# Each fault at a share of the planned answers: SIGKILLs, then the broker restarted (its
# connections forced closed, the services reconnect) and Redis restarted without its data.
FAULTS = ((0.2, kill_worker), (0.45, kill_gateway), (0.65, restart_rabbitmq), (0.85, restart_redis))
RETRYABLE = {"unavailable", "overloaded", "rate_limited", "not_joined"}
WORDS = ["Python", "python!", "RUST", "rust", "Data science", "café", "cafe\u0301", "🎉", "Go"]
CLOUD = {"kind": "wordcloud", "prompt": "One word?", "max_entries": 3, "banned_words": ["meh"]}


@dataclass
class WordPerson:
    urls: list[str]
    participant: Participant
    home: int
    acked: list[str] | None = None  # the last acknowledged entries
    sent: int = 0
    moved: int = 0

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
                await asyncio.sleep(0.3)

    async def answer(self, words: list[str], deadline: float) -> None:
        self.sent += 1
        vote_id = f"{self.participant.nickname}-{self.sent}"
        while time.monotonic() < deadline:
            try:
                await self.ensure(deadline)
                reply = await self.participant.answer(
                    {"words": words}, client_vote_id=vote_id, timeout=5
                )
            except (OSError, ConnectionError, ConnectionClosed, TimeoutError):
                await asyncio.sleep(0.2)
                continue
            if reply["type"] == "vote_accepted":
                self.acked = words
                return
            if reply.get("code") not in RETRYABLE:
                raise AssertionError(f"{self.participant.nickname}: {reply}")
            await asyncio.sleep(float(reply.get("retry_after") or 0.3))
        raise TimeoutError(f"{self.participant.nickname}: an answer never acknowledged")


def _normalised(words: list[str]) -> list[str]:
    return list(ANSWER_ADAPTER.validate_python({"kind": "wordcloud", "words": words}).keys)


async def test_a_word_cloud_loses_and_doubles_nothing_under_faults(
    fault_stack: Stack, private_servers: PrivateServers, fault_resources: Resources
) -> None:
    rng = random.Random(1313)
    db = fault_resources.database_url
    api = fault_stack["poll_api"].url
    poll = (await api_call("POST", f"{api}/api/polls", json={"questions": [CLOUD]})).json()
    room = poll["room_code"]
    await api_call("POST", f"{api}/api/polls/{room}/open", headers=bearer(poll["host_token"]))
    urls = gateway_urls(fault_stack, room)
    people = [
        WordPerson(urls, Participant(urls[i % len(urls)], f"wc{i:03d}"), home=i % len(urls))
        for i in range(PEOPLE)
    ]
    deadline = time.monotonic() + 240
    injected: list[asyncio.Task[None]] = []
    await asyncio.gather(*(p.ensure(deadline) for p in people))
    acked_total = 0
    try:

        async def answering(person: WordPerson) -> None:
            nonlocal acked_total
            for k in range(ANSWERS_EACH):
                words = rng.sample(WORDS, rng.randint(1, 3))
                if k % 5 == 4:
                    words[-1] = "Meh"  # banned: stored, withheld from screens
                await person.answer(words, deadline)
                acked_total += 1

        async def faults() -> None:
            planned = PEOPLE * ANSWERS_EACH
            ctx = ScenarioContext(fault_stack, private_servers, fault_resources, poll, [], rng)
            for share, inject in FAULTS:
                while acked_total < share * planned:
                    await asyncio.sleep(0.02)
                injected.append(asyncio.create_task(inject(ctx)))

        await asyncio.gather(faults(), *(answering(p) for p in people))
        await asyncio.gather(*injected)
        assert sum(p.moved for p in people) > 0, "the gateway kill moved nobody"

        expected = {p.participant.participant_id: _normalised(p.acked or []) for p in people}
        while True:
            cloud = (await read_questions(db, poll["id"]))[0]
            stored = {pid: list(a.keys) for pid, a in cloud.answers.items()}
            if stored == expected and cloud.tally == cloud.recomputed():
                break
            lost = sum(1 for pid, keys in expected.items() if stored.get(pid) != keys)
            assert time.monotonic() < deadline, f"{lost} answers lost or not the last acked"
            await asyncio.sleep(0.5)
        assert len(cloud.answers) == PEOPLE  # one counted answer each: nothing doubled
        assert "meh" not in {w["word"].casefold() for w in cloud.tally["words"]}
        assert cloud.tally["total"] == PEOPLE

        def screens_converged() -> bool:
            for p in people:
                if not p.participant.connected:
                    continue
                shown = p.participant.tallies.get(0)
                if shown is None or shown.get("words") != cloud.tally["words"]:
                    return False
            return True

        while not screens_converged():
            assert time.monotonic() < deadline, "screens never showed the stored cloud"
            await asyncio.sleep(0.3)
        print(
            f"\nword cloud under faults: {acked_total} answers acknowledged, {PEOPLE} stored as"
            f" the last acknowledged, 0 lost, 0 duplicated;"
            f" {sum(p.moved for p in people)} participants moved to the other gateway"
        )
    finally:
        await asyncio.gather(*injected, return_exceptions=True)
        await asyncio.gather(*(p.participant.close() for p in people))
