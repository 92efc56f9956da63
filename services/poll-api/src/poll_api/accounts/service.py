"""Sign up, sign in, refresh, sign out and change the password: each a short transaction,
with an audit event in the same commit (through the outbox, like every poll-api event).

Audit kinds: `account.signed_up`, `account.signed_in`, `account.signed_out`,
`account.password_changed`, `security.refresh_reused` (a spent refresh token came back: its
family is revoked), and `security.login_failed` for a wrong e-mail or password
(`data.reason`: `unknown_account` or `wrong_password`; the e-mail is not recorded, only a
hash of it, so the stream does not collect addresses people mistyped).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from poll_api import outbox
from poll_api.accounts import passwords, store
from poll_api.accounts.tokens import issue_access_token
from poll_api.context import AppContext
from poll_api.service import Caller

log = logging.getLogger(__name__)


class LoginFailed(Exception):
    """Wrong e-mail or password (one message for both)."""


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int
    account_id: uuid.UUID
    email: str


def _email_digest(email: str) -> str:
    return hashlib.sha256(email.lower().encode()).hexdigest()[:16]


async def _audit(
    session: AsyncSession, caller: Caller, kind: str, now: datetime, **data: object
) -> None:
    await outbox.enqueue(
        session,
        [
            outbox.audit_row(
                kind=kind,
                occurred_at=now,
                correlation_id=caller.correlation_id,
                client_ip=caller.client_ip,
                poll_id=None,
                data=dict(data),
            )
        ],
    )


def _refresh_ttl(ctx: AppContext) -> timedelta:
    return timedelta(days=ctx.settings.refresh_token_days)


async def _tokens(
    ctx: AppContext, session: AsyncSession, account: store.Account, now: datetime
) -> Tokens:
    refresh = await store.issue_refresh_token(session, account.id, now, _refresh_ttl(ctx))
    return _pair(ctx, account.id, account.email, refresh, now)


def _pair(
    ctx: AppContext, account_id: uuid.UUID, email: str, refresh: str, now: datetime
) -> Tokens:
    ttl = ctx.settings.access_token_seconds
    access = issue_access_token(ctx.settings.key_ring, account_id, now, ttl)
    return Tokens(access, refresh, ttl, account_id, email)


async def sign_up(
    ctx: AppContext, session: AsyncSession, email: str, password: str, caller: Caller
) -> Tokens:
    hashed = await passwords.hash_password(password)
    now = ctx.clock()
    async with session.begin():
        account = await store.create_account(session, email, hashed, now)
        await _audit(session, caller, "account.signed_up", now, account_id=str(account.id))
        tokens = await _tokens(ctx, session, account, now)
    log.info("host account created", extra={"account_id": str(account.id)})
    return tokens


async def sign_in(
    ctx: AppContext, session: AsyncSession, email: str, password: str, caller: Caller
) -> Tokens:
    async with session.begin():
        account = await store.find_account(session, email)
    ok = await passwords.verify_password(account.password_hash if account else None, password)
    now = ctx.clock()
    async with session.begin():
        if account is None or not ok:
            await _audit(
                session,
                caller,
                "security.login_failed",
                now,
                reason="unknown_account" if account is None else "wrong_password",
                email_digest=_email_digest(email),
            )
        else:
            await _audit(session, caller, "account.signed_in", now, account_id=str(account.id))
            return await _tokens(ctx, session, account, now)
    raise LoginFailed("wrong e-mail or password")


async def refresh(ctx: AppContext, session: AsyncSession, token: str, caller: Caller) -> Tokens:
    now = ctx.clock()
    try:
        async with session.begin():
            account_id, new_refresh = await store.rotate_refresh_token(
                session, token, now, _refresh_ttl(ctx)
            )
            account = await store.get_account(session, account_id)
    except store.RefreshReused as reused:
        async with session.begin():
            await store.revoke_family(session, reused.family, now)
            await _audit(session, caller, "security.refresh_reused", now, family=str(reused.family))
        raise
    if account is None:  # deleted meanwhile: the cascade removed its tokens
        raise store.RefreshRefused("unknown refresh token")
    return _pair(ctx, account.id, account.email, new_refresh, now)


async def sign_out(ctx: AppContext, session: AsyncSession, token: str, caller: Caller) -> None:
    """Revoke the refresh token's family (this sign-in, on this device). Unknown: nothing."""
    now = ctx.clock()
    async with session.begin():
        family = await store.family_of(session, token)
        if family is not None:
            await store.revoke_family(session, family, now)
            await _audit(session, caller, "account.signed_out", now, family=str(family))


async def change_password(
    ctx: AppContext,
    session: AsyncSession,
    account_id: uuid.UUID,
    current: str,
    new: str,
    caller: Caller,
) -> None:
    """Check the current password, store the new one, revoke every refresh token."""
    async with session.begin():
        account = await store.get_account(session, account_id)
    if account is None or not await passwords.verify_password(account.password_hash, current):
        raise LoginFailed("the current password is wrong")
    hashed = await passwords.hash_password(new)
    now = ctx.clock()
    async with session.begin():
        await store.set_password(session, account_id, hashed, now)
        await store.revoke_all(session, account_id, now)
        await _audit(session, caller, "account.password_changed", now, account_id=str(account_id))
