"""The Q&A board end to end (issue 13): 200 participants, 190 ask (one twice, with the same
`client_ask_id`) and all upvote (up, down, duplicates)
on a moderated board; every score equals a recount of what is stored, each participant's
acknowledged latest upvote is the stored one, and no participant's socket ever receives an
item before the host approved it (invariant 6), nor a hidden one after it was hidden."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
import orjson
import pytest

from tests.support.eventually import eventually
from tests.support.host import bearer
from tests.support.participant import Participant
from tests.support.procs import Stack
from tests.support.qa import (
    ask,
    item_ids_seen,
    latest_board,
    qa_frames,
    read_qa_truth,
    upvote,
)
from tests.support.truth import audit_kinds

pytestmark = pytest.mark.e2e

PARTICIPANTS = 200
ASKERS = 190  # a poll takes at most 200 asks (contracts.qa.MAX_QA_ITEMS); one is resent
APPROVED = 150


async def _join_all(ws_url: str, count: int) -> list[Participant]:
    people = [Participant(ws_url, f"p{i:03d}") for i in range(count)]
    for start in range(0, count, 50):
        chunk = people[start : start + 50]
        await asyncio.gather(*(p.connect() for p in chunk))
        await asyncio.gather(*(p.join() for p in chunk))
    return people


async def test_two_hundred_participants_on_a_moderated_board(
    stack: Stack, e2e_resources: Any
) -> None:
    rng = random.Random(13)
    api = stack["poll_api"].url
    db = e2e_resources.database_url
    async with httpx.AsyncClient(base_url=api, timeout=15) as http:
        created = await http.post(
            "/api/polls",
            json={
                "question": "Warm-up?",
                "options": ["yes", "no"],
                "settings": {"qa_enabled": True, "qa_moderated": True},
            },
        )
        assert created.status_code == 201, created.text
        poll = created.json()
        assert poll["poll"]["qa_enabled"] and poll["poll"]["qa_moderated"]
        room, token, poll_id = poll["room_code"], poll["host_token"], poll["id"]
        ws_url = f"ws://127.0.0.1:{stack['ws_gateway'].port}/ws/{room}"
        people = await _join_all(ws_url, PARTICIPANTS)
        try:
            # Every participant gets the (empty) board after joining.
            await eventually(lambda: all(qa_frames(p) for p in people), what="first qa frames")

            # 20 ask; the board is moderated: each ask is pending and acknowledged.
            asked = await asyncio.gather(
                *(
                    ask(people[i], f"Question number {i}: why?", client_ask_id=f"q{i}")
                    for i in range(ASKERS)
                )
            )
            assert all(a["type"] == "asked" and a["status"] == "pending" for a in asked), asked
            items = [a["item"] for a in asked]
            again = await ask(people[0], "Question number 0: why?", client_ask_id="q0")
            assert again["type"] == "asked" and again["item"] == items[0], again
            author = {items[i]: people[i] for i in range(ASKERS)}

            # Host routes refuse strangers before telling anything (even about unknown items).
            assert (await http.get(f"/api/polls/{room}/qa")).status_code == 401
            wrong = bearer("not-the-token")
            assert (await http.get(f"/api/polls/{room}/qa", headers=wrong)).status_code == 403
            for path in (f"qa/{items[0]}/approve", f"qa/{items[0]}/pin", f"qa/{poll_id}/hide"):
                resp = await http.post(f"/api/polls/{room}/{path}", headers=wrong)
                assert resp.status_code == 403, resp.text
                assert "item" not in resp.text

            host = bearer(token)

            async def pending_on_host() -> dict[str, Any]:
                board = (await http.get(f"/api/polls/{room}/qa", headers=host)).json()
                assert board["pending"] == ASKERS, board
                return board

            board = await eventually(pending_on_host, what="the host sees every pending item")
            assert {i["id"] for i in board["items"]} == set(items)
            unknown = await http.post(f"/api/polls/{room}/qa/{poll_id}/approve", headers=host)
            assert unknown.status_code == 404

            # Nobody received a pending item; an upvote of one is refused as unknown.
            assert not any(item_ids_seen(p) for p in people)
            refused = await upvote(people[0], items[-1])
            assert refused["code"] == "unknown_item", refused

            approved, still_pending = items[:APPROVED], items[APPROVED:]
            hidden = approved[-1]
            for item in approved:
                resp = await http.post(f"/api/polls/{room}/qa/{item}/approve", headers=host)
                assert resp.status_code == 202, resp.text

            def board_of(p: Participant, count: int) -> bool:
                latest = latest_board(p)
                return latest is not None and len(latest["items"]) == count

            await eventually(
                lambda: all(board_of(p, APPROVED) for p in people), what="every approved item"
            )
            resp = await http.post(f"/api/polls/{room}/qa/{hidden}/hide", headers=host)
            assert resp.status_code == 202
            await eventually(
                lambda: all(board_of(p, APPROVED - 1) for p in people), what="one hidden"
            )
            visible = approved[:-1]

            # Not on one's own item; not on a hidden one.
            own = await upvote(author[visible[0]], visible[0])
            assert own["code"] == "own_item", own
            gone = await upvote(people[150], hidden)
            assert gone["code"] == "unknown_item", gone

            # Everyone upvotes 3 to 6 items; some take one back, some send one twice.
            acked: dict[tuple[str, str], bool] = {}

            async def vote_as(p: Participant) -> None:
                assert p.participant_id is not None
                mine = {i for i, a in author.items() if a is p}
                choices = rng.sample([i for i in visible if i not in mine], rng.randint(3, 6))
                plan = [(i, True) for i in choices]
                if rng.random() < 0.4:
                    plan.append((choices[0], False))  # up then down
                if rng.random() < 0.3:
                    plan.append((choices[-1], True))  # a duplicate
                for item, up in plan:
                    reply = await upvote(p, item, up)
                    assert reply["type"] == "upvoted", reply
                    acked[(p.participant_id, item)] = up

            frames_before = len(qa_frames(people[0]))
            await asyncio.gather(*(vote_as(p) for p in people))

            async def settled() -> Any:
                truth = await read_qa_truth(db, poll_id)
                for item_id, row in truth.items.items():
                    assert row["score"] == truth.recount[item_id], (item_id, row)
                assert truth.votes == acked
                ups = [item for (_, item), up in acked.items() if up]
                expected = {i: ups.count(i) for i in items}
                assert {i: r["score"] for i, r in truth.items.items()} == expected
                return truth

            truth = await eventually(settled, timeout=30, what="scores equal the recount")

            def final_frames_match() -> bool:
                want = sorted((i, r["score"]) for i, r in truth.items.items() if i in set(visible))
                for p in people:
                    latest = latest_board(p)
                    assert latest is not None
                    got = sorted((i["id"], i["score"]) for i in latest["items"])
                    assert got == want, (p.nickname, got[:3], want[:3])
                return True

            await eventually(final_frames_match, timeout=30, what="every screen has the scores")
            # Board order: pinned first (none), then score, highest first.
            scores = [i["score"] for i in latest_board(people[0])["items"]]  # type: ignore[index]
            assert scores == sorted(scores, reverse=True)

            # Invariant 6, on every frame every socket received: no pending item's id or text
            # (its author's own `asked` reply aside), in any frame of any type.
            pending_texts = [f"Question number {i}: why?" for i in range(APPROVED, ASKERS)]
            for p in people:
                assert not item_ids_seen(p) & set(still_pending), p.nickname
                # Once a board without the hidden item came after it was shown, no later one
                # brings it back.
                boards = [{i["id"] for i in f["items"]} for f in qa_frames(p)]
                shown_at = next(n for n, ids in enumerate(boards) if hidden in ids)
                gone_at = next(n for n in range(shown_at, len(boards)) if hidden not in boards[n])
                assert all(hidden not in ids for ids in boards[gone_at:]), p.nickname
                raw = orjson.dumps([f for f in p.frames if f.get("type") != "asked"]).decode()
                leaked = [x for x in [*still_pending, *pending_texts] if x in raw]
                assert not leaked, (p.nickname, leaked[:2])
            # Coalesced: far fewer board frames than upvotes.
            assert len(qa_frames(people[0])) - frames_before < len(acked) / 4

            kinds = await eventually(
                lambda: _audited(db, poll_id), timeout=20, what="qa audit events"
            )
            assert kinds["qa.asked"] == ASKERS
            assert kinds["qa.approved"] == APPROVED and kinds["qa.hidden"] == 1
        finally:
            await asyncio.gather(*(p.close() for p in people))


async def _audited(db: str, poll_id: str) -> dict[str, int] | None:
    kinds = await audit_kinds(db, poll_id)
    wanted = ("qa.asked", "qa.upvoted", "qa.approved", "qa.hidden")
    return kinds if all(kinds.get(k) for k in wanted) and kinds["qa.approved"] >= APPROVED else None
