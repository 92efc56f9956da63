"""Host accounts over HTTP: sign up, sign in, refresh, sign out, change the password, and the
account's own polls (poll_api.accounts; docs/security.md, "Host accounts")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status

from poll_api import crud
from poll_api.accounts import service, store
from poll_api.accounts.models import (
    AccountOut,
    ClaimBody,
    Credentials,
    MyPoll,
    MyPolls,
    PasswordChange,
    RefreshBody,
    SignUp,
    TokensOut,
)
from poll_api.api.deps import AnonymousCallerDep, CallerDep, ContextDep, RoomCodeDep, SessionDep
from poll_api.errors import HostAuthFailed
from poll_api.host_accounts import check_host_account
from poll_api.host_tokens import token_matches
from poll_api.protection import protection_of
from poll_api.service import Caller, record_auth_failure
from zephyr_runtime.ratelimit import Check

router = APIRouter(tags=["accounts"])

_REFUSED: dict[int | str, dict[str, Any]] = {
    401: {"description": "Wrong e-mail or password, or an unknown, expired or revoked token"},
    429: {"description": "Too many attempts for this account or from this IP"},
}


def _out(tokens: service.Tokens) -> TokensOut:
    return TokensOut(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
        account=AccountOut(id=tokens.account_id, email=tokens.email),
    )


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, {"WWW-Authenticate": "Bearer"})


def _signed_in(caller: Caller) -> Any:
    """The caller's account id; 401 without a valid access token."""
    if caller.account_id is None:
        raise _unauthorized(caller.token_error or "sign in: Authorization: Bearer <access_token>")
    return caller.account_id


async def _limit_account(request: Request, ctx: ContextDep, email: str) -> None:
    """Sign-in attempts per e-mail (the per-IP rule is checked by the rate-limit middleware)."""
    limiter = protection_of(request).limiter
    if limiter is None or not ctx.settings.rate_limit_enabled:
        return
    check = Check("login_account", email.lower(), ctx.settings.rule("login_account"))
    decision = await limiter.check([check])
    if not decision.allowed:
        protection_of(request).on_limited(request.scope, decision)
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many sign-in attempts for this account: wait and try again",
            {"Retry-After": decision.retry_after_header},
        )


@router.post(
    "/api/auth/signup",
    status_code=status.HTTP_201_CREATED,
    response_model=TokensOut,
    responses={
        403: {"description": "Host API keys are on and the key is wrong"},
        409: {"description": "An account with this e-mail exists"},
        **_REFUSED,
    },
)
async def sign_up(
    body: SignUp,
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    caller: AnonymousCallerDep,
) -> Any:
    """Create a host account; signed in at once (the tokens of `login`). With host API keys on
    (`host_auth_enabled`), signing up needs one (`Authorization: Bearer <host API key>`): an
    account can create polls, so it is as closed as creating them."""
    if ctx.settings.host_auth_enabled:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        check_host_account(
            key if scheme.lower() == "bearer" and key else None, ctx.settings.host_api_keys
        )
    try:
        return _out(await service.sign_up(ctx, session, body.email, body.password, caller))
    except store.EmailTaken:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "an account with this e-mail exists"
        ) from None


@router.post("/api/auth/login", response_model=TokensOut, responses=_REFUSED)
async def log_in(
    body: Credentials,
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    caller: AnonymousCallerDep,
) -> Any:
    """An access token (short-lived, `expires_in` seconds) and a refresh token."""
    await _limit_account(request, ctx, body.email)
    try:
        return _out(await service.sign_in(ctx, session, body.email, body.password, caller))
    except service.LoginFailed as exc:
        raise _unauthorized(str(exc)) from None


@router.post("/api/auth/refresh", response_model=TokensOut, responses=_REFUSED)
async def refresh(
    body: RefreshBody, ctx: ContextDep, session: SessionDep, caller: AnonymousCallerDep
) -> Any:
    """A new access token and a new refresh token; the one given is spent (using it again
    signs out every device of that sign-in)."""
    try:
        return _out(await service.refresh(ctx, session, body.refresh_token, caller))
    except store.RefreshRefused as exc:
        raise _unauthorized(str(exc)) from None


@router.post("/api/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def log_out(
    body: RefreshBody, ctx: ContextDep, session: SessionDep, caller: AnonymousCallerDep
) -> None:
    """Revoke the refresh token (and its family). Access tokens live out their few minutes."""
    await service.sign_out(ctx, session, body.refresh_token, caller)


@router.post(
    "/api/auth/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        401: {"description": "No valid access token, or the current password is wrong"},
        429: {"description": "Too many attempts from this IP"},
    },
)
async def change_password(
    body: PasswordChange, ctx: ContextDep, session: SessionDep, caller: CallerDep
) -> None:
    """Change the password; every refresh token of the account is revoked."""
    account_id = _signed_in(caller)
    try:
        await service.change_password(
            ctx, session, account_id, body.current_password, body.new_password, caller
        )
    except service.LoginFailed as exc:
        raise _unauthorized(str(exc)) from None


@router.get("/api/me", response_model=AccountOut, responses={401: {"description": "Sign in"}})
async def me(session: SessionDep, caller: CallerDep) -> Any:
    account_id = _signed_in(caller)
    async with session.begin():
        account = await store.get_account(session, account_id)
    if account is None:
        raise _unauthorized("this account no longer exists")
    return AccountOut(id=account.id, email=account.email)


@router.get("/api/me/polls", response_model=MyPolls, responses={401: {"description": "Sign in"}})
async def my_polls(session: SessionDep, caller: CallerDep) -> Any:
    """The signed-in host's polls, newest first (up to 500)."""
    account_id = _signed_in(caller)
    async with session.begin():
        rows = await store.owned_polls(session, account_id)
    return MyPolls(polls=[MyPoll.model_validate(row) for row in rows])


@router.post(
    "/api/polls/{room_code}/claim",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        401: {"description": "Sign in"},
        403: {"description": "Wrong host token for this poll"},
        404: {"description": "Unknown room code"},
        409: {"description": "Another account owns this poll"},
    },
)
async def claim(
    room_code: RoomCodeDep, body: ClaimBody, session: SessionDep, caller: CallerDep
) -> None:
    """Put a poll created without an account into the signed-in account, with its host token."""
    account_id = _signed_in(caller)
    async with session.begin():
        poll = await crud.get_poll(session, room_code, for_update=True)
        matches = token_matches(body.host_token, poll.host_token_hash)
        claimed = matches and await store.claim_poll(session, poll.id, account_id)
    if not matches:
        failure = HostAuthFailed(403, "the host token does not match this poll")
        await record_auth_failure(session, poll, caller, failure, action="claim")
        raise failure
    if not claimed:
        raise HTTPException(status.HTTP_409_CONFLICT, "another account owns this poll")
