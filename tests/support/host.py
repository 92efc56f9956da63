"""What a host does over HTTP in tests: create a poll and open it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

OPTIONS = ("Red", "Green", "Blue", "Yellow")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def create_open_poll(
    api: str, question: str = "Best colour?", options: Sequence[str] = OPTIONS
) -> dict[str, Any]:
    """POST /api/polls, then /open with the host token; the created poll (with its token)."""
    async with httpx.AsyncClient(base_url=api, timeout=10) as http:
        created = await http.post("/api/polls", json={"question": question, "options": options})
        assert created.status_code == 201, created.text
        poll: dict[str, Any] = created.json()
        opened = await http.post(
            f"/api/polls/{poll['room_code']}/open", headers=bearer(poll["host_token"])
        )
        assert opened.status_code == 200, opened.text
        assert opened.json()["status"] == "open"
        return poll
