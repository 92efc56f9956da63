"""Helpers for the attack tests: polls, clients with chosen headers, audit look-ups."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
from websockets.asyncio.client import connect

from tests.support.eventually import eventually
from tests.support.participant import Participant

OPTIONS = ["Red", "Green", "Blue"]


async def create_poll(api: str, *, open_it: bool = True, **body: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"question": "Best colour?", "options": OPTIONS, **body}
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        created = await http.post("/api/polls", json=payload)
        assert created.status_code == 201, created.text
        poll: dict[str, Any] = created.json()
        if open_it:
            opened = await http.post(
                f"/api/polls/{poll['room_code']}/open",
                headers={"Authorization": f"Bearer {poll['host_token']}"},
            )
            assert opened.status_code == 200, opened.text
    return poll


class Client(Participant):
    """A participant whose handshake carries the headers we choose (X-Forwarded-For, Origin)."""

    def __init__(self, ws_url: str, nickname: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(ws_url, nickname)
        self.headers = headers or {}

    async def connect(self, ws_url: str | None = None) -> None:
        self.ws_url = ws_url or self.ws_url
        self._ws = await connect(
            self.ws_url,
            open_timeout=20,
            max_size=2**20,
            compression=None,
            additional_headers=self.headers,
        )
        self._reader = asyncio.create_task(self._read())


def from_ip(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


async def security_events(database_url: str, kind: str, **where: str) -> list[dict[str, Any]]:
    """audit_log rows of one kind; `where` matches top-level columns or data fields."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT kind, service, poll_id, participant_id, client_ip, correlation_id, "
            "data::text AS data FROM audit_log WHERE kind = $1",
            kind,
        )
    finally:
        await conn.close()
    import json

    found = []
    for row in rows:
        item = dict(row)
        item["data"] = json.loads(item["data"])
        ok = True
        for key, value in where.items():
            actual = item.get(key) if key in item else item["data"].get(key)
            if str(actual) != value:
                ok = False
        if ok:
            found.append(item)
    return found


async def wait_for_event(database_url: str, kind: str, **where: str) -> list[dict[str, Any]]:
    """Wait (generously) until audit-sink has stored at least one matching event."""
    found: list[dict[str, Any]] = []

    async def present() -> bool:
        nonlocal found
        found = await security_events(database_url, kind, **where)
        return bool(found)

    await eventually(present, timeout=60, interval=0.5, what=f"a stored {kind} event")
    return found
