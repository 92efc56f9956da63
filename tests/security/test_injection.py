"""XSS payloads come back as inert data (or are refused as markup); SQL injection changes
nothing; a wrong host token changes nothing and is audited."""

from __future__ import annotations

from urllib.parse import quote

import asyncpg
import httpx
import pytest

from tests.security.helpers import Client, create_poll, security_events, wait_for_event
from tests.support.eventually import eventually
from tests.support.isolation import Resources
from tests.support.procs import Stack

pytestmark = pytest.mark.e2e

# Markup: refused with 422 wherever people type text (the documented HTML rule).
MARKUP = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg/onload=alert(1)>",
    "</title><script>alert(1)</script>",
    "<!--<script>-->",
    "<iframe src=javascript:alert(1)>",
    "<a href='javascript:alert(1)'>x</a>",
    "<?xml version='1.0'?>",
]
# Not markup: accepted, stored and returned exactly as typed (inert text).
INERT = [
    "javascript:alert(1)",
    '" onmouseover="alert(1)',
    "'; alert(1); //",
    "{{7*7}} ${7*7}",
    "a < b && c > d",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
]
SQL = [
    "'; DROP TABLE polls; --",
    "1' OR '1'='1",
    "Robert'); DROP TABLE participants;--",
    "\\'; DELETE FROM votes WHERE '1'='1",
    "1; UPDATE polls SET status='open'",
]


async def _table_counts(database_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(database_url)
    try:
        return {
            t: int(await conn.fetchval(f"SELECT count(*) FROM {t}"))
            for t in ("polls", "participants", "votes", "ballots", "tallies")
        }
    finally:
        await conn.close()


async def test_markup_is_refused_everywhere_people_type_text(sec_stack: Stack) -> None:
    api = sec_stack["poll_api"].url
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        for payload in MARKUP:
            for body in (
                {"question": payload, "options": ["a", "b"]},
                {"question": "Which?", "options": ["a", payload]},
            ):
                resp = await http.post("/api/polls", json=body)
                assert resp.status_code == 422, (payload, resp.text)
                assert "markup" in resp.text
                assert resp.headers["content-type"].startswith("application/json")
                assert payload not in resp.text  # the offending input is not echoed
    poll = await create_poll(api)
    url = f"ws://127.0.0.1:{sec_stack['fuzz_gateway'].port}/ws/{poll['room_code']}"
    for payload in MARKUP[:3]:
        person = Client(url, payload)
        await person.connect()
        with pytest.raises(RuntimeError, match="invalid_frame"):
            await person.join()
        await person.close()


async def test_inert_payloads_come_back_exactly_as_data(
    sec_stack: Stack, sec_resources: Resources
) -> None:
    api = sec_stack["poll_api"].url
    question = INERT[0] + " " + INERT[1]
    options = [*INERT[1:], '=HYPERLINK("http://evil")']
    poll = await create_poll(api, question=question, options=options)
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        public = await http.get(f"/api/polls/{poll['room_code']}")
        assert public.headers["content-type"] == "application/json"
        assert public.headers["x-content-type-options"] == "nosniff"
        assert public.json()["question"] == question
        assert public.json()["options"] == options
        revealed = await http.post(
            f"/api/polls/{poll['room_code']}/reveal",
            headers={"Authorization": f"Bearer {poll['host_token']}"},
        )
        assert revealed.status_code == 200
        csv = await http.get(f"/api/polls/{poll['room_code']}/results.csv")
        assert csv.headers["content-type"].startswith("text/csv")
        assert "attachment" in csv.headers["content-disposition"]
        assert "'=HYPERLINK" in csv.text  # a spreadsheet shows it instead of running it
    url = f"ws://127.0.0.1:{sec_stack['fuzz_gateway'].port}/ws/{poll['room_code']}"
    person = Client(url, '" onmouseover="x')
    await person.connect()
    joined = await person.join()
    assert joined["nickname"] == '" onmouseover="x'
    assert joined["poll"]["question"] == question
    await person.close()

    async def stored() -> bool:
        conn = await asyncpg.connect(sec_resources.database_url)
        try:
            nick = await conn.fetchval(
                "SELECT nickname FROM participants WHERE participant_id = $1::uuid",
                person.participant_id,
            )
        finally:
            await conn.close()
        return bool(nick == '" onmouseover="x')

    await eventually(stored, timeout=60)


async def test_sql_injection_patterns_change_nothing(
    sec_stack: Stack, sec_resources: Resources
) -> None:
    api = sec_stack["poll_api"].url
    poll = await create_poll(api, question=SQL[0], options=SQL[1:3])
    before = await _table_counts(sec_resources.database_url)
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        for payload in SQL:
            for path in (
                f"/api/polls/{quote(payload, safe='')}",
                f"/api/polls/{quote(payload, safe='')}/results",
                f"/api/polls/{quote(payload, safe='')}/open",
            ):
                method = "POST" if path.endswith("/open") else "GET"
                resp = await http.request(
                    method, path, headers={"Authorization": f"Bearer {payload}"}
                )
                assert resp.status_code in (401, 403, 404, 422), (path, resp.status_code)
            wrong = await http.post(
                f"/api/polls/{poll['room_code']}/open",
                headers={"Authorization": f"Bearer {payload}"},
            )
            assert wrong.status_code == 403
        view = await http.get(f"/api/polls/{poll['room_code']}")
        assert view.json()["question"] == SQL[0]
        assert view.json()["status"] == "open"
    url = f"ws://127.0.0.1:{sec_stack['fuzz_gateway'].port}/ws/{poll['room_code']}"
    people = [Client(url, payload[:40]) for payload in SQL]
    for person in people:
        await person.connect()
        await person.join()
        assert (await person.vote(0))["type"] == "vote_accepted"

    async def votes_stored() -> bool:
        counts = await _table_counts(sec_resources.database_url)
        return counts["votes"] >= before["votes"] + len(people)

    await eventually(votes_stored, timeout=60)
    after = await _table_counts(sec_resources.database_url)
    assert after["polls"] == before["polls"]  # nothing dropped, nothing added, no updates
    assert after["participants"] >= before["participants"] + len(people)
    for person in people:
        await person.close()


async def test_a_wrong_host_token_changes_nothing_and_is_audited(
    sec_stack: Stack, sec_resources: Resources
) -> None:
    api = sec_stack["poll_api"].url
    poll = await create_poll(api, open_it=False)
    room = poll["room_code"]
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        for action in ("open", "close", "reveal", "reset"):
            wrong = await http.post(
                f"/api/polls/{room}/{action}",
                headers={"Authorization": "Bearer " + "A" * 43, "X-Request-ID": f"wrong-{action}"},
            )
            assert wrong.status_code == 403, wrong.text
            assert wrong.json()["detail"]
            missing = await http.post(f"/api/polls/{room}/{action}")
            assert missing.status_code == 401
            assert missing.headers["www-authenticate"] == "Bearer"
        view = (await http.get(f"/api/polls/{room}")).json()
    assert (view["status"], view["revealed"], view["state_version"]) == ("draft", False, 1)
    events = await wait_for_event(
        sec_resources.database_url, "security.auth_failed", poll_id=poll["id"]
    )

    async def all_audited() -> bool:
        nonlocal events
        events = await security_events(
            sec_resources.database_url, "security.auth_failed", poll_id=poll["id"]
        )
        return len(events) >= 8

    await eventually(all_audited, timeout=60)
    assert {e["correlation_id"] for e in events} >= {f"wrong-{a}" for a in ("open", "reset")}
    assert all(e["client_ip"] == "127.0.0.1" for e in events)


async def test_invalid_input_over_http_is_audited(
    sec_stack: Stack, sec_resources: Resources
) -> None:
    async with httpx.AsyncClient(base_url=sec_stack["poll_api"].url, timeout=30) as http:
        resp = await http.post(
            "/api/polls",
            json={"question": "<b>x</b>", "options": ["a"]},
            headers={"X-Request-ID": "invalid-input-probe"},
        )
        assert resp.status_code == 422
        assert resp.json()["correlation_id"] == "invalid-input-probe"
    await wait_for_event(
        sec_resources.database_url,
        "security.invalid_input",
        correlation_id="invalid-input-probe",
    )
