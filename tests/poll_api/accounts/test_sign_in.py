"""Sign up, sign in, refresh, sign out, password change: against the real Postgres and Redis."""

from __future__ import annotations

import json

import asyncpg

from tests.poll_api.accounts.conftest import App
from tests.poll_api.accounts.support import PASSWORD, host_of, log_in, new_email, sign_up
from tests.poll_api.utils import app_settings, running_app
from tests.support.isolation import Resources


async def _audit(db: asyncpg.Connection, kind: str) -> list[dict[str, object]]:
    rows = await db.fetch(
        "SELECT e FROM outbox, jsonb_array_elements(body->'events') AS e"
        " WHERE e->>'kind' = $1 ORDER BY id",
        kind,
    )
    return [json.loads(r["e"]) for r in rows]


async def test_sign_up_then_sign_in_gives_tokens_that_name_the_account(accounts: App) -> None:
    host = await sign_up(accounts.client)
    me = await accounts.client.get("/api/me", headers=host.auth)
    assert me.status_code == 200 and me.json() == {"id": host.account_id, "email": host.email}
    again = await log_in(accounts.client, host.email.upper())  # e-mail case does not matter
    assert again.status_code == 200, again.text
    body = again.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 300
    assert body["account"]["id"] == host.account_id and body["refresh_token"] != host.refresh


async def test_a_taken_email_and_bad_input_change_nothing(
    accounts: App, db: asyncpg.Connection
) -> None:
    host = await sign_up(accounts.client)
    before = await db.fetchval("SELECT count(*) FROM host_accounts")
    taken = await accounts.client.post(
        "/api/auth/signup", json={"email": host.email.title(), "password": PASSWORD}
    )
    assert taken.status_code == 409 and "exists" in taken.json()["detail"]
    for body in (
        {"email": new_email(), "password": "short"},
        {"email": "not-an-address", "password": PASSWORD},
        {"email": "a@b\x00.org", "password": PASSWORD},
        {"email": new_email(), "password": "p" * 300},
        {"email": new_email()},
        {"email": new_email(), "password": PASSWORD, "admin": True},
    ):
        resp = await accounts.client.post("/api/auth/signup", json=body)
        assert resp.status_code == 422, (body, resp.text)
        assert "Traceback" not in resp.text
    assert await db.fetchval("SELECT count(*) FROM host_accounts") == before


async def test_a_wrong_password_is_refused_audited_and_rate_limited(
    accounts: App, db: asyncpg.Connection
) -> None:
    host = await sign_up(accounts.client)
    before = len(await _audit(db, "security.login_failed"))
    codes = [(await log_in(accounts.client, host.email, "wrong password!")).status_code]
    codes += [(await log_in(accounts.client, host.email, "wrong password!")).status_code]
    assert codes == [401, 401]
    unknown = await log_in(accounts.client, new_email())
    assert unknown.status_code == 401
    assert unknown.json()["detail"] == "wrong e-mail or password"  # the same for both
    failed = (await _audit(db, "security.login_failed"))[before:]
    assert [e["data"]["reason"] for e in failed] == [  # type: ignore[index]
        "wrong_password",
        "wrong_password",
        "unknown_account",
    ]
    assert host.email not in str(failed)  # a digest, never the address
    # The per-account budget (4/1m here): two more attempts pass the limiter, then 429, even
    # with the right password; another account is not affected.
    await log_in(accounts.client, host.email, "wrong password!")
    await log_in(accounts.client, host.email, "wrong password!")
    limited = await log_in(accounts.client, host.email)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    other = await sign_up(accounts.client)
    assert (await log_in(accounts.client, other.email)).status_code == 200


async def test_refresh_rotates_and_a_reused_token_revokes_its_family(accounts: App) -> None:
    host = await sign_up(accounts.client)
    first = await accounts.client.post("/api/auth/refresh", json={"refresh_token": host.refresh})
    assert first.status_code == 200, first.text
    rotated = host_of(first.json(), host.email)
    assert (await accounts.client.get("/api/me", headers=rotated.auth)).status_code == 200
    # The spent token again (a stolen copy): refused, and the family's newer token too.
    reused = await accounts.client.post("/api/auth/refresh", json={"refresh_token": host.refresh})
    assert reused.status_code == 401 and "sign in again" in reused.json()["detail"]
    newer = await accounts.client.post("/api/auth/refresh", json={"refresh_token": rotated.refresh})
    assert newer.status_code == 401
    unknown = await accounts.client.post("/api/auth/refresh", json={"refresh_token": "nope"})
    assert unknown.status_code == 401 and unknown.headers["WWW-Authenticate"] == "Bearer"


async def test_tokens_expire_on_the_apps_clock(accounts: App) -> None:
    host = await sign_up(accounts.client)
    accounts.clock.move(seconds=299)
    assert (await accounts.client.get("/api/me", headers=host.auth)).status_code == 200
    accounts.clock.move(seconds=2)
    expired = await accounts.client.get("/api/me", headers=host.auth)
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]
    # The refresh token outlives it (30 days), then it expires as well.
    refreshed = await accounts.client.post(
        "/api/auth/refresh", json={"refresh_token": host.refresh}
    )
    assert refreshed.status_code == 200
    later = host_of(refreshed.json(), host.email)
    accounts.clock.move(days=31)
    old = await accounts.client.post("/api/auth/refresh", json={"refresh_token": later.refresh})
    assert old.status_code == 401 and "expired" in old.json()["detail"]


async def test_sign_out_and_a_password_change_revoke_refresh_tokens(accounts: App) -> None:
    host = await sign_up(accounts.client)
    phone = host_of((await log_in(accounts.client, host.email)).json(), host.email)
    out = await accounts.client.post("/api/auth/logout", json={"refresh_token": host.refresh})
    assert out.status_code == 204
    gone = await accounts.client.post("/api/auth/refresh", json={"refresh_token": host.refresh})
    assert gone.status_code == 401
    # The phone's sign-in is another family: still valid, until the password changes.
    wrong = await accounts.client.post(
        "/api/auth/password",
        json={"current_password": "not it at all", "new_password": "a brand new one"},
        headers=phone.auth,
    )
    assert wrong.status_code == 401
    changed = await accounts.client.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": "a brand new one"},
        headers=phone.auth,
    )
    assert changed.status_code == 204, changed.text
    revoked = await accounts.client.post("/api/auth/refresh", json={"refresh_token": phone.refresh})
    assert revoked.status_code == 401
    assert (await log_in(accounts.client, host.email)).status_code == 401
    assert (await log_in(accounts.client, host.email, "a brand new one")).status_code == 200


async def test_sign_in_attempts_from_one_ip_are_limited(resources: Resources) -> None:
    settings = app_settings(rate_limit_login_ip="3/1m")
    async with running_app(settings) as (_, client):
        codes = [(await log_in(client, new_email())).status_code for _ in range(5)]
    assert 429 in codes and set(codes) <= {401, 429}, codes
    assert codes[-1] == 429  # once refused, refused until the window moves


async def test_with_host_api_keys_on_signing_up_and_duplicating_need_a_key(
    resources: Resources,
) -> None:
    """An account can create polls: where creating needs a host API key, so does signing up,
    and duplicating a poll (it creates one) needs the key as well."""
    key = "k" * 40
    settings = app_settings(
        host_auth_enabled=True, host_api_keys=key, rate_limit_login_ip="1000/1m"
    )
    async with running_app(settings) as (_, client):
        email = new_email()
        body = {"email": email, "password": PASSWORD}
        assert (await client.post("/api/auth/signup", json=body)).status_code == 401
        wrong = {"Authorization": "Bearer " + "w" * 40}
        assert (await client.post("/api/auth/signup", json=body, headers=wrong)).status_code == 403
        ok = await client.post(
            "/api/auth/signup", json=body, headers={"Authorization": f"Bearer {key}"}
        )
        assert ok.status_code == 201, ok.text
        # A poll made with the key, duplicated with its host token: refused (the host token is
        # no creation key); an account's own poll duplicates with the access token.
        created = await client.post(
            "/api/polls",
            json={"question": "Q?", "options": ["a", "b"]},
            headers={"Authorization": f"Bearer {key}"},
        )
        poll = created.json()
        url = f"/api/polls/{poll['room_code']}/duplicate"
        host = {"Authorization": f"Bearer {poll['host_token']}"}
        assert (await client.post(url, headers=host)).status_code == 403
        account = {"Authorization": f"Bearer {ok.json()['access_token']}"}
        mine = await client.post(
            "/api/polls", json={"question": "Mine?", "options": ["a", "b"]}, headers=account
        )
        assert mine.status_code == 201, mine.text
        copy = await client.post(
            f"/api/polls/{mine.json()['room_code']}/duplicate", headers=account
        )
        assert copy.status_code == 201, copy.text
