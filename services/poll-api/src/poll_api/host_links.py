"""Host links: `/host/<room>#key=<secret>` opens the host console on any device.

A link's secret works like the poll's host token (`Authorization: Bearer hl-…`) until it is
revoked; the host token itself is never put in a URL. Secrets are random (`secrets`, 256 bits)
with the prefix `hl-`, stored only as SHA-256; the key travels in the URL's fragment, which
browsers do not send to the server nor put in the Referer, and the console moves it into
sessionStorage and off the address bar at once.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from poll_api.host_tokens import MAX_TOKEN_CHARS, hash_token

PREFIX = "hl-"
MAX_LINKS_PER_POLL = 20


class TooManyLinks(Exception):
    """A poll keeps at most MAX_LINKS_PER_POLL links that are not revoked."""


def looks_like_link(token: str) -> bool:
    return token.startswith(PREFIX) and len(token) <= MAX_TOKEN_CHARS


async def _execute(session: AsyncSession, sql: str, params: dict[str, Any]) -> Any:
    connection = await session.connection()
    return await connection.execute(text(sql), params)


async def create_link(
    session: AsyncSession, poll_id: uuid.UUID, label: str | None, now: datetime
) -> tuple[uuid.UUID, str]:
    # The poll's row lock serialises link creation: the cap holds under concurrent requests.
    await _execute(session, "SELECT 1 FROM polls WHERE id = :poll FOR UPDATE", {"poll": poll_id})
    live = (
        await _execute(
            session,
            "SELECT count(*) FROM host_links WHERE poll_id = :poll AND revoked_at IS NULL",
            {"poll": poll_id},
        )
    ).scalar()
    if int(live or 0) >= MAX_LINKS_PER_POLL:
        raise TooManyLinks(f"a poll keeps at most {MAX_LINKS_PER_POLL} host links: revoke one")
    link_id, secret = uuid.uuid4(), PREFIX + secrets.token_urlsafe(32)
    await _execute(
        session,
        "INSERT INTO host_links (id, poll_id, secret_hash, label, created_at)"
        " VALUES (:id, :poll, :hash, :label, :now)",
        {"id": link_id, "poll": poll_id, "hash": hash_token(secret), "label": label, "now": now},
    )
    return link_id, secret


async def link_matches(session: AsyncSession, poll_id: uuid.UUID, token: str) -> bool:
    """Whether `token` is a live link of this poll (looked up by its hash: the index is on
    the hash, and the hash of a guess tells nothing)."""
    if not looks_like_link(token):
        return False
    found = (
        await _execute(
            session,
            "SELECT 1 FROM host_links WHERE secret_hash = :hash AND poll_id = :poll"
            " AND revoked_at IS NULL",
            {"hash": hash_token(token), "poll": poll_id},
        )
    ).first()
    return found is not None


async def list_links(session: AsyncSession, poll_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await _execute(
        session,
        "SELECT id, label, created_at, revoked_at FROM host_links WHERE poll_id = :poll"
        " ORDER BY created_at, id",
        {"poll": poll_id},
    )
    return [dict(row._mapping) for row in rows]


async def revoke_link(
    session: AsyncSession, poll_id: uuid.UUID, link_id: uuid.UUID, now: datetime
) -> bool:
    """Revoke one link; False when the poll has no such link (revoking twice is fine)."""
    result = await _execute(
        session,
        "UPDATE host_links SET revoked_at = coalesce(revoked_at, :now)"
        " WHERE id = :id AND poll_id = :poll",
        {"id": link_id, "poll": poll_id, "now": now},
    )
    return bool(result.rowcount)
