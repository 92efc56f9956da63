"""`GET /api/polls/{room}/host-check`: the gateway's question "does this bearer host this poll?"."""

from __future__ import annotations

import asyncpg
import httpx

from tests.poll_api.utils import bearer, create_poll


async def test_the_host_token_and_a_live_link_pass_and_strangers_do_not(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    poll, other = await create_poll(client), await create_poll(client)
    room, token = poll["room_code"], poll["host_token"]
    url = f"/api/polls/{room}/host-check"
    ok = await client.get(url, headers=bearer(token))
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"poll_id": poll["id"], "room_code": room}

    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, headers=bearer("x" * 43))).status_code == 403
    assert (await client.get(url, headers=bearer(other["host_token"]))).status_code == 403
    refused = await db.fetchval(
        "SELECT count(*) FROM outbox WHERE body::text LIKE '%\"host_check\"%'"
        " AND body::text LIKE '%' || $1 || '%'",
        poll["id"],
    )
    assert refused >= 3  # each refusal is audited (security.auth_failed)

    made = await client.post(f"/api/polls/{room}/host-links", json={}, headers=bearer(token))
    link = made.json()
    assert (await client.get(url, headers=bearer(link["key"]))).status_code == 200
    revoked = await client.delete(
        f"/api/polls/{room}/host-links/{link['id']}", headers=bearer(token)
    )
    assert revoked.status_code == 204
    after = await client.get(url, headers=bearer(link["key"]))
    assert after.status_code == 403 and "revoked" in after.json()["detail"]


async def test_an_unknown_room_is_a_404(client: httpx.AsyncClient) -> None:
    resp = await client.get("/api/polls/ZZZZZZ/host-check", headers=bearer("x" * 43))
    assert resp.status_code == 404
