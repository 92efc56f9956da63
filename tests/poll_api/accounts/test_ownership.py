"""An account's polls: created with its access token, listed, controlled from any device,
claimed with a host token; another account's token is refused on every host route."""

from __future__ import annotations

import asyncpg

from tests.poll_api.accounts.conftest import App
from tests.poll_api.accounts.support import sign_up
from tests.poll_api.utils import bearer, create_poll

# Path parameters of host routes, filled in for the sweep below, and valid bodies (a body
# that fails validation is a 422 before anyone is asked who they are).
PARAMS = {
    "n": "0",
    "index": "0",
    "item": "00000000-0000-0000-0000-000000000000",
    "link_id": "00000000-0000-0000-0000-000000000000",
}
QUESTION = {"kind": "single", "prompt": "Another?", "options": ["a", "b"]}
BODIES = {
    "/api/polls/{room_code}/questions": QUESTION,
    "/api/polls/{room_code}/questions/{index}": QUESTION,
    "/api/polls/{room_code}/questions/{index}/move": {"to": 0},
    "/api/polls/{room_code}/host-links": {},
}


async def test_a_poll_created_signed_in_is_listed_and_controlled_with_the_access_token(
    accounts: App, db: asyncpg.Connection
) -> None:
    host = await sign_up(accounts.client)
    created = await accounts.client.post(
        "/api/polls", json={"question": "Mine?", "options": ["a", "b"]}, headers=host.auth
    )
    assert created.status_code == 201, created.text
    poll = created.json()
    assert poll["host_token"]  # still returned: it works as before
    owner = await db.fetchval("SELECT owner_id::text FROM polls WHERE id = $1", poll["id"])
    assert owner == host.account_id
    await create_poll(accounts.client)  # anonymous: nobody's
    listed = await accounts.client.get("/api/me/polls", headers=host.auth)
    assert listed.status_code == 200
    polls = listed.json()["polls"]
    assert [p["room_code"] for p in polls] == [poll["room_code"]]
    assert polls[0]["questions"] == 1 and polls[0]["participants"] == 0
    assert polls[0]["status"] == "draft"
    # Another device: the same account signs in and opens the poll with its own token.
    other_device = await accounts.client.post(
        "/api/auth/login", json={"email": host.email, "password": "correct horse battery"}
    )
    device = {"Authorization": f"Bearer {other_device.json()['access_token']}"}
    opened = await accounts.client.post(f"/api/polls/{poll['room_code']}/open", headers=device)
    assert opened.status_code == 200, opened.text
    results = await accounts.client.get(f"/api/polls/{poll['room_code']}/results", headers=device)
    assert results.status_code == 200


def _host_routes(accounts: App) -> list[tuple[str, str]]:
    """Every route that acts on a poll for its host (write methods under a room code)."""
    out = []
    for path, operations in accounts.app.openapi()["paths"].items():
        if "{room_code}" not in path or path.endswith("/claim"):
            continue
        out += [(m.upper(), path) for m in operations if m in ("post", "patch", "delete")]
    return sorted(out)


async def test_another_accounts_token_is_refused_on_every_host_route(
    accounts: App, db: asyncpg.Connection
) -> None:
    owner, stranger = await sign_up(accounts.client), await sign_up(accounts.client)
    created = await accounts.client.post(
        "/api/polls", json={"question": "Mine?", "options": ["a", "b"]}, headers=owner.auth
    )
    poll = created.json()
    room = poll["room_code"]
    version = await db.fetchval("SELECT state_version FROM polls WHERE id = $1", poll["id"])
    routes = _host_routes(accounts)
    assert len(routes) >= 10, routes
    for method, path in routes:
        url = path.replace("{room_code}", room)
        for name, value in PARAMS.items():
            url = url.replace("{" + name + "}", value)
        body = BODIES.get(path, {"word": "x"}) if method != "DELETE" else None
        resp = await accounts.client.request(method, url, headers=stranger.auth, json=body)
        assert resp.status_code == 403, (method, url, resp.status_code, resp.text)
    for path in ("/questions", "/results", "/results.csv"):
        resp = await accounts.client.get(f"/api/polls/{room}{path}", headers=stranger.auth)
        assert resp.status_code == 403, (path, resp.text)
    # A forged token (the owner's, with its signature changed) is a 401, not the owner.
    head, claims, signature = owner.access.split(".")
    forged = f"{head}.{claims}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    refused = await accounts.client.post(f"/api/polls/{room}/open", headers=bearer(forged))
    assert refused.status_code == 401 and "signature" in refused.json()["detail"]
    assert await db.fetchval("SELECT state_version FROM polls WHERE id = $1", poll["id"]) == version


async def test_an_anonymous_poll_is_claimed_with_its_host_token(accounts: App) -> None:
    host, other = await sign_up(accounts.client), await sign_up(accounts.client)
    poll = await create_poll(accounts.client)
    room = poll["room_code"]
    url = f"/api/polls/{room}/claim"
    wrong = await accounts.client.post(url, json={"host_token": "x" * 43}, headers=host.auth)
    assert wrong.status_code == 403
    unsigned = await accounts.client.post(url, json={"host_token": poll["host_token"]})
    assert unsigned.status_code == 401
    ok = await accounts.client.post(url, json={"host_token": poll["host_token"]}, headers=host.auth)
    assert ok.status_code == 204, ok.text
    listed = (await accounts.client.get("/api/me/polls", headers=host.auth)).json()["polls"]
    assert [p["room_code"] for p in listed] == [room]
    taken = await accounts.client.post(
        url, json={"host_token": poll["host_token"]}, headers=other.auth
    )
    assert taken.status_code == 409
    # The host token keeps working for whoever holds it (a co-host at the venue).
    opened = await accounts.client.post(
        f"/api/polls/{room}/open", headers=bearer(poll["host_token"])
    )
    assert opened.status_code == 200


async def test_an_expired_access_token_never_creates_an_ownerless_poll(
    accounts: App, db: asyncpg.Connection
) -> None:
    host = await sign_up(accounts.client)
    accounts.clock.move(seconds=301)
    before = await db.fetchval("SELECT count(*) FROM polls")
    resp = await accounts.client.post(
        "/api/polls", json={"question": "Q?", "options": ["a", "b"]}, headers=host.auth
    )
    assert resp.status_code == 401 and "expired" in resp.json()["detail"]
    assert await db.fetchval("SELECT count(*) FROM polls") == before
