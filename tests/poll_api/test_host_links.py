"""Host links: a second secret per device that controls the poll until it is revoked."""

from __future__ import annotations

import asyncpg
import httpx

from tests.poll_api.utils import bearer, create_poll


async def test_a_host_link_controls_the_poll_until_it_is_revoked(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    poll = await create_poll(client)
    room, token = poll["room_code"], poll["host_token"]
    made = await client.post(
        f"/api/polls/{room}/host-links", json={"label": "my phone"}, headers=bearer(token)
    )
    assert made.status_code == 201, made.text
    link = made.json()
    key = link["key"]
    assert key.startswith("hl-") and link["url"].endswith(f"/host/{room}#key={key}")
    assert key not in str(await db.fetch("SELECT * FROM host_links"))  # stored hashed only
    opened = await client.post(f"/api/polls/{room}/open", headers=bearer(key))
    assert opened.status_code == 200, opened.text
    listed = await client.get(f"/api/polls/{room}/host-links", headers=bearer(token))
    assert [(x["label"], x["revoked_at"]) for x in listed.json()["links"]] == [("my phone", None)]
    assert "key" not in listed.json()["links"][0]
    revoked = await client.delete(
        f"/api/polls/{room}/host-links/{link['id']}", headers=bearer(token)
    )
    assert revoked.status_code == 204
    refused = await client.post(f"/api/polls/{room}/close", headers=bearer(key))
    assert refused.status_code == 403 and "revoked" in refused.json()["detail"]
    assert (await client.post(f"/api/polls/{room}/close", headers=bearer(token))).status_code == 200


async def test_a_link_of_one_poll_does_not_open_another(client: httpx.AsyncClient) -> None:
    mine, other = await create_poll(client), await create_poll(client)
    made = await client.post(
        f"/api/polls/{mine['room_code']}/host-links", json={}, headers=bearer(mine["host_token"])
    )
    key = made.json()["key"]
    resp = await client.post(f"/api/polls/{other['room_code']}/open", headers=bearer(key))
    assert resp.status_code == 403
    # Nor can a stranger make, list or revoke links.
    for method, path in (
        ("POST", "host-links"),
        ("GET", "host-links"),
        ("DELETE", f"host-links/{made.json()['id']}"),
    ):
        url = f"/api/polls/{mine['room_code']}/{path}"
        body = {} if method == "POST" else None
        resp = await client.request(method, url, headers=bearer("x" * 43), json=body)
        assert resp.status_code == 403, (method, path, resp.text)


async def test_labels_are_plain_text_and_links_are_bounded(client: httpx.AsyncClient) -> None:
    poll = await create_poll(client)
    url, auth = f"/api/polls/{poll['room_code']}/host-links", bearer(poll["host_token"])
    for label in ("<b>phone</b>", "a\u202eb", "x" * 81):
        resp = await client.post(url, json={"label": label}, headers=auth)
        assert resp.status_code == 422, (label, resp.text)
    codes = [(await client.post(url, json={}, headers=auth)).status_code for _ in range(21)]
    assert codes[:20] == [201] * 20 and codes[20] == 409


async def test_a_host_link_cannot_manage_host_links(client: httpx.AsyncClient) -> None:
    """A leaked link must not mint more links nor revoke the host's (only the host token or the
    owning account manage them)."""
    poll = await create_poll(client)
    room, token = poll["room_code"], poll["host_token"]
    made = await client.post(f"/api/polls/{room}/host-links", json={}, headers=bearer(token))
    key, link_id = made.json()["key"], made.json()["id"]
    for method, path in (
        ("POST", "host-links"),
        ("GET", "host-links"),
        ("DELETE", f"host-links/{link_id}"),
    ):
        body = {} if method == "POST" else None
        resp = await client.request(
            method, f"/api/polls/{room}/{path}", headers=bearer(key), json=body
        )
        assert resp.status_code == 403 and "host token" in resp.json()["detail"], resp.text
    assert (await client.post(f"/api/polls/{room}/open", headers=bearer(key))).status_code == 200
