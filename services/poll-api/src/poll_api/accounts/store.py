"""The account tables (migration 0003): `host_accounts`, `refresh_tokens`, `polls.owner_id`.

A refresh token is random (`secrets`), stored only as its SHA-256. Tokens of one sign-in form
a *family*: each refresh revokes the token used and issues the next of its family; presenting
a revoked token again (a stolen copy, or the thief's after the owner refreshed) revokes the
whole family, so both parties must sign in again.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

REFRESH_TOKEN_BYTES = 32


class EmailTaken(Exception):
    """An account with this e-mail exists."""


class RefreshRefused(Exception):
    """Unknown, expired or revoked refresh token (a revoked one revokes its family)."""


class RefreshReused(RefreshRefused):
    """A spent or revoked token came back: its family must be revoked (in a transaction of
    its own, since the refusal rolls back the one that found it)."""

    def __init__(self, family: uuid.UUID) -> None:
        super().__init__("this refresh token was already used or revoked: sign in again")
        self.family = family


@dataclass(frozen=True)
class Account:
    id: uuid.UUID
    email: str
    password_hash: str
    password_changed_at: datetime


async def _execute(session: AsyncSession, statement: TextClause, params: dict[str, Any]) -> Any:
    """Plain SQL on the session's connection (inside its transaction)."""
    connection = await session.connection()
    return await connection.execute(statement, params)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def create_account(
    session: AsyncSession, email: str, password_hash: str, now: datetime
) -> Account:
    account_id = uuid.uuid4()
    try:
        await _execute(
            session,
            text(
                "INSERT INTO host_accounts (id, email, password_hash, created_at,"
                " password_changed_at) VALUES (:id, :email, :hash, :now, :now)"
            ),
            {"id": account_id, "email": email, "hash": password_hash, "now": now},
        )
    except IntegrityError as exc:
        raise EmailTaken(email) from exc
    return Account(account_id, email, password_hash, now)


async def find_account(session: AsyncSession, email: str) -> Account | None:
    row = (
        await _execute(
            session,
            text(
                "SELECT id, email, password_hash, password_changed_at FROM host_accounts"
                " WHERE lower(email) = lower(:email)"
            ),
            {"email": email},
        )
    ).first()
    return Account(*row) if row else None


async def get_account(session: AsyncSession, account_id: uuid.UUID) -> Account | None:
    row = (
        await _execute(
            session,
            text(
                "SELECT id, email, password_hash, password_changed_at FROM host_accounts"
                " WHERE id = :id"
            ),
            {"id": account_id},
        )
    ).first()
    return Account(*row) if row else None


async def set_password(
    session: AsyncSession, account_id: uuid.UUID, password_hash: str, now: datetime
) -> None:
    await _execute(
        session,
        text(
            "UPDATE host_accounts SET password_hash = :hash, password_changed_at = :now"
            " WHERE id = :id"
        ),
        {"id": account_id, "hash": password_hash, "now": now},
    )


async def issue_refresh_token(
    session: AsyncSession,
    account_id: uuid.UUID,
    now: datetime,
    ttl: timedelta,
    family: uuid.UUID | None = None,
) -> str:
    token = secrets.token_urlsafe(REFRESH_TOKEN_BYTES)
    await _execute(
        session,
        text(
            "INSERT INTO refresh_tokens (token_hash, account_id, family, issued_at, expires_at)"
            " VALUES (:hash, :account, :family, :now, :expires)"
        ),
        {
            "hash": token_digest(token),
            "account": account_id,
            "family": family or uuid.uuid4(),
            "now": now,
            "expires": now + ttl,
        },
    )
    return token


async def rotate_refresh_token(
    session: AsyncSession, token: str, now: datetime, ttl: timedelta
) -> tuple[uuid.UUID, str]:
    """Revoke `token` and issue the next of its family: (account id, new token)."""
    row = (
        await _execute(
            session,
            text(
                "SELECT account_id, family, expires_at, revoked_at FROM refresh_tokens"
                " WHERE token_hash = :hash FOR UPDATE"
            ),
            {"hash": token_digest(token)},
        )
    ).first()
    if row is None:
        raise RefreshRefused("unknown refresh token")
    account_id, family, expires_at, revoked_at = row
    if revoked_at is not None:
        raise RefreshReused(family)
    if expires_at <= now:
        raise RefreshRefused("the refresh token has expired: sign in again")
    await _execute(
        session,
        text("UPDATE refresh_tokens SET revoked_at = :now WHERE token_hash = :hash"),
        {"now": now, "hash": token_digest(token)},
    )
    return account_id, await issue_refresh_token(session, account_id, now, ttl, family)


async def family_of(session: AsyncSession, token: str) -> uuid.UUID | None:
    family: Any = (
        await _execute(
            session,
            text("SELECT family FROM refresh_tokens WHERE token_hash = :hash"),
            {"hash": token_digest(token)},
        )
    ).scalar()
    return family if isinstance(family, uuid.UUID) else None


async def revoke_family(session: AsyncSession, family: uuid.UUID, now: datetime) -> None:
    await _execute(
        session,
        text(
            "UPDATE refresh_tokens SET revoked_at = :now"
            " WHERE family = :family AND revoked_at IS NULL"
        ),
        {"now": now, "family": family},
    )


async def revoke_all(session: AsyncSession, account_id: uuid.UUID, now: datetime) -> None:
    await _execute(
        session,
        text(
            "UPDATE refresh_tokens SET revoked_at = :now"
            " WHERE account_id = :account AND revoked_at IS NULL"
        ),
        {"now": now, "account": account_id},
    )


async def owned_polls(session: AsyncSession, account_id: uuid.UUID) -> list[dict[str, Any]]:
    """The account's polls, newest first, with their question and participant counts."""
    rows = await _execute(
        session,
        text(
            """
            SELECT p.id, p.room_code, p.title, p.question, p.status, p.created_at,
                   p.expires_at,
                   (SELECT count(*) FROM questions q WHERE q.poll_id = p.id) AS questions,
                   (SELECT count(*) FROM participants pa WHERE pa.poll_id = p.id)
                       AS participants
            FROM polls p
            WHERE p.owner_id = :account
            ORDER BY p.created_at DESC, p.id
            LIMIT 500
            """
        ),
        {"account": account_id},
    )
    return [dict(row._mapping) for row in rows]


async def claim_poll(session: AsyncSession, poll_id: uuid.UUID, account_id: uuid.UUID) -> bool:
    """Give an unowned poll to the account; False when another account owns it."""
    owner = (
        await _execute(
            session, text("SELECT owner_id FROM polls WHERE id = :id FOR UPDATE"), {"id": poll_id}
        )
    ).scalar()
    if owner is not None and owner != account_id:
        return False
    await _execute(
        session,
        text("UPDATE polls SET owner_id = :account WHERE id = :id"),
        {"account": account_id, "id": poll_id},
    )
    return True
