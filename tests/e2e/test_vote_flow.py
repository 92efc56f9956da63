"""The whole system end to end: host, 50 participants, worker, screens and audit log."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest

from contracts.polls import ROOM_CODE_ALPHABET
from tests.support.eventually import eventually
from tests.support.host import OPTIONS, create_open_poll
from tests.support.isolation import Resources
from tests.support.participant import Participant
from tests.support.procs import Stack
from tests.support.truth import audit_kinds, audited_vote_ids, read_truth, redis_tally

pytestmark = pytest.mark.e2e


async def test_fifty_participants_vote_and_every_screen_sees_the_truth(
    stack: Stack, e2e_resources: Resources
) -> None:
    rng = random.Random(2026)
    poll = await create_open_poll(stack["poll_api"].url)
    room, token, poll_id = poll["room_code"], poll["host_token"], poll["id"]
    assert len(room) == 6 and set(room) <= set(ROOM_CODE_ALPHABET)
    ws_url = f"ws://127.0.0.1:{stack['ws_gateway'].port}/ws/{room}"

    people = [Participant(ws_url, f"voter-{i}") for i in range(50)]
    await asyncio.gather(*(p.connect() for p in people))
    await asyncio.gather(*(p.join() for p in people))
    assert len({p.participant_id for p in people}) == 50

    async def cast(p: Participant, i: int) -> None:
        first = await p.vote(rng.randrange(len(OPTIONS)), client_vote_id=f"{i}-a")
        assert first["type"] == "vote_accepted", first
        if i % 3 == 0:  # some change their vote
            changed = await p.vote(rng.randrange(len(OPTIONS)), client_vote_id=f"{i}-b")
            assert changed["type"] == "vote_accepted", changed
        if i % 5 == 0:  # some resend their last vote: the same id, counted once
            last = p.accepted[-1]
            again = await p.vote(last["option"], client_vote_id=last["client_vote_id"])
            assert again["vote_id"] == last["vote_id"]

    await asyncio.gather(*(cast(p, i) for i, p in enumerate(people)))

    async with httpx.AsyncClient(base_url=stack["poll_api"].url, timeout=10) as http:
        closed = await http.post(
            f"/api/polls/{room}/close", headers={"Authorization": f"Bearer {token}"}
        )
        assert closed.status_code == 200, closed.text
    late = await people[0].vote(0)
    assert late["type"] == "error"
    assert late["code"] == "poll_closed"

    expected = {p.participant_id: p.accepted[-1] for p in people}

    async def all_stored() -> bool:
        truth = await read_truth(e2e_resources.database_url, poll_id, len(OPTIONS))
        return len(truth.votes) == len(expected) and all(
            truth.votes[pid]["vote_id"] == acc["vote_id"] for pid, acc in expected.items()
        )

    await eventually(all_stored, timeout=30)
    truth = await read_truth(e2e_resources.database_url, poll_id, len(OPTIONS))

    # Invariant 1: every acknowledged vote was recorded.
    accepted_ids = {a["vote_id"] for p in people for a in p.accepted}
    assert accepted_ids <= truth.ballots
    # Invariant 2: one counted vote per participant, the latest one they cast.
    for pid, acc in expected.items():
        assert truth.votes[pid]["option"] == acc["option"]
    # Invariant 3: the tally equals a GROUP BY over the stored votes.
    assert truth.tally is not None
    assert list(truth.tally["counts"]) == truth.group_by
    assert truth.tally["total"] == len(people)

    # Every screen's last tally converges to the truth; so does Redis.
    async def screens_agree() -> bool:
        return all(p.last_tally and p.last_tally["counts"] == truth.group_by for p in people)

    await eventually(screens_agree, timeout=10)
    assert all(p.tally_frames < len(accepted_ids) for p in people), "tallies were not coalesced"
    key = f"{e2e_resources.redis_prefix}:poll:{poll_id}:tally:0"
    cached = await redis_tally(e2e_resources.redis_url, key)
    assert cached is not None and cached["counts"] == truth.group_by

    # The poll's state changes reached the screens.
    assert all(any(s["status"] == "closed" for s in p.states) for p in people)

    # The audit log holds the poll's and the votes' events.
    async def audited() -> bool:
        return accepted_ids <= await audited_vote_ids(e2e_resources.database_url, poll_id)

    await eventually(audited, timeout=30)
    kinds = await audit_kinds(e2e_resources.database_url, poll_id)
    for kind in ("poll.created", "question.opened", "question.closed", "participant.joined"):
        assert kinds.get(kind, 0) >= 1, kinds
    assert kinds["participant.joined"] == 50

    # Results over HTTP agree, for the host.
    async with httpx.AsyncClient(base_url=stack["poll_api"].url, timeout=10) as http:
        results = await http.get(
            f"/api/polls/{room}/results", headers={"Authorization": f"Bearer {token}"}
        )
        assert results.status_code == 200
        assert results.json()["counts"] == truth.group_by
        csv = await http.get(
            f"/api/polls/{room}/results.csv", headers={"Authorization": f"Bearer {token}"}
        )
        assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    await asyncio.gather(*(p.close() for p in people))


async def test_reconnect_with_resume_token_restores_identity_tally_and_vote(
    stack: Stack, e2e_resources: Resources
) -> None:
    poll = await create_open_poll(stack["poll_api"].url, "Resume?")
    ws_url = f"ws://127.0.0.1:{stack['ws_gateway'].port}/ws/{poll['room_code']}"
    first = Participant(ws_url, "Ann")
    await first.connect()
    await first.join()
    accepted = await first.vote(2)
    assert accepted["type"] == "vote_accepted"
    await first.close()

    again = Participant(ws_url, "someone else", resume_token=first.resume_token)
    await again.connect()

    async def recorded() -> bool:
        truth = await read_truth(e2e_resources.database_url, poll["id"], len(OPTIONS))
        return truth.group_by[2] == 1

    await eventually(recorded, timeout=20)
    joined = await again.join()
    assert joined["participant_id"] == first.participant_id
    assert joined["nickname"] == "Ann"
    assert joined["my_vote"] == 2
    await again.close()

    # Nickname uniqueness is case-insensitive; unknown rooms are refused.
    clash = Participant(ws_url, "ANN")
    await clash.connect()
    with pytest.raises(RuntimeError, match="nickname_taken"):
        await clash.join()
    await clash.close()
    code = "".join(random.choice(ROOM_CODE_ALPHABET) for _ in range(6))
    stranger = Participant(f"ws://127.0.0.1:{stack['ws_gateway'].port}/ws/{code}", "x")
    await stranger.connect()
    assert await stranger.wait_closed() == 4404
    assert stranger.errors and stranger.errors[0]["code"] == "unknown_poll"
