"""The gateway's host check takes an account's access token for the account's own polls only."""

from __future__ import annotations

from tests.poll_api.accounts.conftest import App
from tests.poll_api.accounts.support import sign_up


async def test_the_owner_passes_another_account_does_not(accounts: App) -> None:
    owner, stranger = await sign_up(accounts.client), await sign_up(accounts.client)
    created = await accounts.client.post(
        "/api/polls", json={"question": "Mine?", "options": ["a", "b"]}, headers=owner.auth
    )
    assert created.status_code == 201, created.text
    url = f"/api/polls/{created.json()['room_code']}/host-check"
    assert (await accounts.client.get(url, headers=owner.auth)).status_code == 200
    refused = await accounts.client.get(url, headers=stranger.auth)
    assert refused.status_code == 403
    forged = await accounts.client.get(url, headers={"Authorization": "Bearer a.b.c"})
    assert forged.status_code in (401, 403)
