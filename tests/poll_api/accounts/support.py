"""Helpers of the host-account tests: a signed-up account and its tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

PASSWORD = "correct horse battery"


@dataclass
class Host:
    email: str
    access: str
    refresh: str
    account_id: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


def new_email() -> str:
    return f"host-{uuid.uuid4().hex[:12]}@example.org"


def host_of(body: dict[str, Any], email: str) -> Host:
    return Host(email, body["access_token"], body["refresh_token"], body["account"]["id"])


async def sign_up(client: httpx.AsyncClient, email: str | None = None) -> Host:
    email = email or new_email()
    resp = await client.post("/api/auth/signup", json={"email": email, "password": PASSWORD})
    assert resp.status_code == 201, resp.text
    return host_of(resp.json(), email)


async def log_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})
