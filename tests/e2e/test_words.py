"""A word cloud end to end (issue 13): 200 participants, spellings, moderation, attacks.

Profane and banned entries are accepted and stored but withheld from every screen (documented
in docs/questions.md); a word the host hides leaves every screen and the aggregate, which is
recomputed exactly from the stored answers, and comes back with its exact counts when shown.
Hidden words are asserted absent from the frames each participant's socket received.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support.eventually import eventually
from tests.support.host import bearer
from tests.support.isolation import Resources
from tests.support.participant import Participant
from tests.support.procs import Stack
from tests.support.truth import QuestionTruth, audit_kinds, read_questions

pytestmark = pytest.mark.e2e

PEOPLE = 200
RUN: list[dict[str, Any]] = [
    {"kind": "wordcloud", "prompt": "One word for today?", "banned_words": ["boring"]},
    {"kind": "single", "prompt": "Lunch?", "options": ["Pizza", "Soup"]},
]
# Normalised word -> spellings participants type (case, spaces, punctuation, NFKC forms, emoji).
SPELLINGS: dict[str, list[str]] = {
    "python": ["Python", "python!", "  PYTHON ", "(python)"],
    "rust": ["Rust", "rust."],
    "data science": ["Data Science", "data   science", "DATA science?"],
    "café": ["Café", "cafe\u0301", "CAFÉ"],
    "🎉": ["🎉", "🎉!"],
    "full": ["full", "ＦＵＬＬ"],
    "go": ["Go", "go?"],
}
BANNED = ["Boring", "BORING!"]
PROFANE = ["Shit", "sh1t"]
WITHHELD = ("boring", "shit", "sh1t")


def entries(rng: random.Random, i: int) -> list[str]:
    words = rng.sample(sorted(SPELLINGS), rng.randint(1, 3))
    picked = [rng.choice(SPELLINGS[w]) for w in words]
    if i % 7 == 0:
        picked[-1] = BANNED[(i // 7) % 2]
    elif i % 11 == 0:
        picked[-1] = PROFANE[(i // 11) % 2]
    if i % 5 == 0 and len(picked) < 3:
        picked.append(picked[0].upper())  # a duplicate in another spelling counts once
    return picked


def seen(p: Participant, since: int = 0) -> str:
    """What others' words reached this socket, folded: every frame from `since` on but the
    participant's own answers (their `vote_accepted` and `joined.my_answers`)."""
    parts: list[Any] = []
    for frame in p.frames[since:]:
        if frame.get("type") == "vote_accepted":
            continue
        if frame.get("type") == "joined":
            frame = {k: v for k, v in frame.items() if k != "my_answers"}
        parts.append(frame)
    return orjson.dumps(parts).decode().casefold()


def shown_words(tally: dict[str, Any] | None) -> dict[str, int]:
    return {w["word"].casefold(): w["count"] for w in (tally or {}).get("words", [])}


async def _post(http: httpx.AsyncClient, path: str, token: str, body: Any = None) -> dict[str, Any]:
    resp = await http.post(path, headers=bearer(token), json=body)
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


async def _cloud(db: str, poll_id: str) -> QuestionTruth:
    return (await read_questions(db, poll_id))[0]


async def _converged(db: str, poll_id: str, people: list[Participant]) -> QuestionTruth:
    """Wait until every acknowledged answer is stored, the stored tally equals its
    recomputation, and every screen shows it."""
    acked = {str(f["vote_id"]) for p in people for f in p.accepted}

    async def stored() -> bool:
        conn = await asyncpg.connect(db, timeout=10)
        try:
            rows = await conn.fetch("SELECT vote_id FROM ballots WHERE poll_id = $1", UUID(poll_id))
        finally:
            await conn.close()
        return acked <= {str(r["vote_id"]) for r in rows}

    await eventually(stored, timeout=60)

    async def check() -> QuestionTruth:
        cloud = await _cloud(db, poll_id)
        expected = cloud.recomputed()
        assert cloud.tally == expected, (cloud.tally, expected)
        assert cloud.withheld == cloud.recomputed_withheld()
        for p in people:
            frame = p.tallies.get(0)
            assert frame is not None and frame["version"] >= cloud.version, p.nickname
            assert {k: frame.get(k) for k in ("words", "distinct", "total")} == {
                k: expected[k] for k in ("words", "distinct", "total")
            }
        return cloud

    result: QuestionTruth = await eventually(check, timeout=60)
    return result


async def test_two_hundred_participants_fill_a_moderated_word_cloud(
    stack: Stack, e2e_resources: Resources
) -> None:
    rng = random.Random(13)
    db = e2e_resources.database_url
    async with httpx.AsyncClient(base_url=stack["poll_api"].url, timeout=20) as http:
        created = await http.post("/api/polls", json={"questions": RUN})
        assert created.status_code == 201, created.text
        poll = created.json()
        room, token, poll_id = poll["room_code"], poll["host_token"], poll["id"]
        words = f"/api/polls/{room}/questions/0/words"
        await _post(http, f"/api/polls/{room}/open", token)
        ws_url = f"ws://127.0.0.1:{stack['ws_gateway'].port}/ws/{room}"
        people = [Participant(ws_url, f"w{i}") for i in range(PEOPLE)]
        await asyncio.gather(*(p.connect() for p in people))
        await asyncio.gather(*(p.join() for p in people))
        sent: dict[int, list[str]] = {}

        async def answer(p: Participant, i: int) -> None:
            first = entries(rng, i)
            reply = await p.answer({"words": first}, client_vote_id=f"w-{i}-a")
            assert reply["type"] == "vote_accepted", reply
            sent[i] = first
            if i % 3 == 0:  # a third replace their list (latest wins)
                again = entries(rng, i + 1)
                reply = await p.answer({"words": again})
                assert reply["type"] == "vote_accepted", reply
                sent[i] = first + again

        await asyncio.gather(*(answer(p, i) for i, p in enumerate(people)))
        cloud = await _converged(db, poll_id, people)
        before = cloud.recomputed()
        assert before["total"] == PEOPLE
        # One respondent per normalised word, whatever the spellings and duplicates.
        for key in SPELLINGS:
            having = sum(1 for a in cloud.answers.values() if key in a.keys)
            assert shown_words(before).get(key, 0) == having, key
        assert len(before["words"]) == before["distinct"] <= len(SPELLINGS)
        # Banned and profane entries are stored, and withheld from every screen.
        stored_keys = {k for a in cloud.answers.values() for k in a.keys}
        assert {"boring", "shit"} <= stored_keys
        reasons = {w["key"]: w["reason"] for w in cloud.withheld}
        assert reasons["boring"] == "banned" and reasons["shit"] == "profanity"
        for i, p in enumerate(people):
            text = seen(p)
            for word in WITHHELD:
                assert f'"{word}"' not in text, (p.nickname, word)
            if not any(w.casefold().strip("!") in WITHHELD for w in sent[i]):
                assert "boring" not in text and "shit" not in text, p.nickname

        # The host hides a word (any spelling): it leaves every screen, the rest stays exact.
        hidden = await _post(http, f"{words}/hide", token, {"word": "PYTHON!"})
        assert hidden == {"index": 0, "word": "python", "state": "hidden"}
        cloud = await _converged(db, poll_id, people)
        after = cloud.recomputed()
        assert "python" not in shown_words(after)
        assert after["distinct"] == before["distinct"] - 1 and after["total"] == before["total"]
        assert {k: v for k, v in shown_words(before).items() if k != "python"} == shown_words(after)
        listed = (await http.get(words, headers=bearer(token))).json()
        assert listed["moderated"] == {"python": "hidden"}
        assert [w["word"] for w in listed["words"]] == [w["word"] for w in after["words"]]
        assert {w["key"]: w["reason"] for w in listed["withheld"]}["python"] == "hidden"

        # Shown again: exactly the counts it had.
        await _post(http, f"{words}/show", token, {"word": "python"})
        cloud = await _converged(db, poll_id, people)
        assert {k: v for k, v in cloud.recomputed().items()} == before

        # Hidden again, then more answers with it and a newcomer: it never reaches a socket.
        await _post(http, f"{words}/hide", token, {"word": "Python"})
        await _converged(db, poll_id, people)
        marks = [len(p.frames) for p in people]
        await asyncio.gather(*(p.answer({"words": ["Python", "rust"]}) for p in people[:20]))
        newcomer = Participant(ws_url, "late")
        await newcomer.connect()
        joined = await newcomer.join()
        assert "python" not in orjson.dumps(joined.get("tally")).decode().casefold()
        cloud = await _converged(db, poll_id, [*people, newcomer])
        assert "python" in {k for a in cloud.answers.values() for k in a.keys}
        for p, mark in zip(people[20:], marks[20:], strict=True):
            assert "python" not in seen(p, mark), p.nickname
        # The host's show wins over the banned words too.
        await _post(http, f"{words}/show", token, {"word": "boring"})
        cloud = await _converged(db, poll_id, people)
        assert shown_words(cloud.tally)["boring"] == sum(
            1 for a in cloud.answers.values() if "boring" in a.keys
        )

        results = await http.get(f"/api/polls/{room}/questions/0/results", headers=bearer(token))
        assert results.status_code == 200, results.text
        assert results.json()["words"] == cloud.recomputed()["words"]
        assert results.json()["distinct"] == cloud.recomputed()["distinct"]

        # Who asks comes first; then what: not a word cloud, not a word.
        stranger = await http.post(f"{words}/hide", json={"word": "rust"})
        assert stranger.status_code == 401, stranger.text
        wrong = await http.post(f"{words}/hide", headers=bearer("x" * 40), json={"word": "rust"})
        assert wrong.status_code == 403, wrong.text
        single = await http.post(
            f"/api/polls/{room}/questions/1/words/hide", headers=bearer(token), json={"word": "a"}
        )
        assert single.status_code == 409, single.text
        for bad in ("<b>x</b>", "a\u202eb", "one two three four", "x" * 26, "?!"):
            refused = await http.post(f"{words}/hide", headers=bearer(token), json={"word": bad})
            assert refused.status_code == 422, (bad, refused.text)
            assert "Traceback" not in refused.text
        listed = (await http.get(words, headers=bearer(token))).json()
        assert listed["moderated"] == {"python": "hidden", "boring": "shown"}

    async def audited() -> bool:
        kinds = await audit_kinds(db, poll_id)
        return kinds.get("question.word_hidden", 0) == 2 and kinds.get("question.word_shown") == 2

    await eventually(audited, timeout=30)
    await asyncio.gather(*(p.close() for p in [*people, newcomer]))


# (entry, a word of the rule): each is `invalid_answer`; an entry past the frame's own bound
# (100 characters) is already `invalid_frame`.
ATTACKS: list[tuple[str, str]] = [
    ("<b>bold</b>", "markup"),
    ("<script>alert(1)</script>", "markup"),
    ("<img src=x onerror=alert(1)>", "markup"),
    ("＜script＞", "markup"),  # fullwidth: NFKC makes it "<script>"
    ("bell\x07", "control"),
    ("nul\x00", "control"),
    ("\u202eevil", "control"),
    ("left\u2067right", "control"),
    ("zero\u200bwidth", "control"),
    ("soft\u00adhyphen", "control"),
    ("\ufeffbom", "control"),
    ("x" * 26, "25 characters"),
    ("x" * 500, "at most 100 characters"),
    ("one two three four", "3 words"),
    ("...", "must contain a word"),
]


async def _send_then_read(ws: ClientConnection, frame: dict[str, Any]) -> None:
    """Send a frame, then read until the connection closes (raises ConnectionClosed)."""
    await ws.send(orjson.dumps(frame).decode())
    while True:
        await asyncio.wait_for(ws.recv(), 30)


async def test_attacks_on_word_entries_are_refused_and_store_nothing(
    stack: Stack, e2e_resources: Resources
) -> None:
    db = e2e_resources.database_url
    async with httpx.AsyncClient(base_url=stack["poll_api"].url, timeout=20) as http:
        created = await http.post("/api/polls", json={"questions": RUN[:1]})
        poll = created.json()
        room, token, poll_id = poll["room_code"], poll["host_token"], poll["id"]
        await _post(http, f"/api/polls/{room}/open", token)
    ws_url = f"ws://127.0.0.1:{stack['ws_gateway'].port}/ws/{room}"
    attacker, bystander = Participant(ws_url, "mallory"), Participant(ws_url, "bob")
    for p in (attacker, bystander):
        await p.connect()
        await p.join()
    for n, (payload, rule) in enumerate(ATTACKS):
        refused = await attacker.answer({"words": ["fine", payload]})
        code = "invalid_frame" if len(payload) > 100 else "invalid_answer"
        assert (refused["type"], refused["code"]) == ("error", code), (payload, refused)
        assert rule in refused["message"], (payload, refused)
        # Others are unaffected: the bystander's answer goes through between two attacks.
        ok = await bystander.answer({"words": [f"calm{n % 3}"]})
        assert ok["type"] == "vote_accepted", ok
    # A 10 MB frame: the gateway closes that connection (1009, message too big) and no more.
    big = await connect(ws_url, open_timeout=10, compression=None, max_size=2**20)
    with pytest.raises(ConnectionClosed) as closed:
        await _send_then_read(big, {"type": "vote", "words": ["x" * (10 * 2**20)]})
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009, closed.value
    ok = await bystander.answer({"words": ["still here"]})
    assert ok["type"] == "vote_accepted", ok

    async def stored() -> QuestionTruth:
        cloud = await _cloud(db, poll_id)
        assert cloud.answers.get(str(bystander.participant_id)) is not None
        assert cloud.answers[str(bystander.participant_id)].words == ["still here"]
        assert cloud.tally == cloud.recomputed()
        return cloud

    cloud = await eventually(stored, timeout=30)
    # Nothing of the attacker's was stored, and no attack reached the bystander's socket.
    assert str(attacker.participant_id) not in cloud.answers
    text = seen(bystander)
    for marker in ("<", "script", "onerror", "evil", "bell", "zero", "hyphen", "bom", "fine"):
        assert marker not in text, marker
    await attacker.close()
    await bystander.close()
