"""FastAPI dependencies as Annotated aliases, so a route reads like its signature."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel.ext.asyncio.session import AsyncSession

from poll_api.accounts.tokens import (
    InvalidAccessToken,
    looks_like_access_token,
    verify_access_token,
)
from poll_api.context import AppContext
from poll_api.crud import normalize_room_code
from poll_api.errors import HostAuthFailed
from poll_api.host_accounts import check_host_account
from poll_api.protection import protection_of
from poll_api.protection.client_ip import request_client_ip
from poll_api.reads import ReadSession
from poll_api.service import Caller
from zephyr_runtime.jsonlog import correlation_id_var

# auto_error=False: a missing token is answered (and audited) by the route, not by FastAPI.
_bearer = HTTPBearer(
    auto_error=False,
    description="The host token returned when the poll was created, or a host account's "
    "access token (POST /api/auth/login) for the account's own polls.",
)


def get_context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


ContextDep = Annotated[AppContext, Depends(get_context)]


async def get_session(ctx: ContextDep) -> AsyncIterator[AsyncSession]:
    async with ctx.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def get_room_code(room_code: str) -> str:
    return normalize_room_code(room_code)


RoomCodeDep = Annotated[str, Depends(get_room_code)]


def get_read_session(ctx: ContextDep, room_code: RoomCodeDep) -> ReadSession:
    return ctx.reads.session(room_code)


# For read-only routes only: `await reads.run(fn)` reads from the replica when it may answer
# (poll_api.reads). Anything that writes, or must see the latest commit, uses SessionDep.
ReadSessionDep = Annotated[ReadSession, Depends(get_read_session)]


def get_caller(
    request: Request,
    ctx: ContextDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """Who asks. A bearer shaped like a JWT is an access token: verified here, so a route
    sees the account (or why its token was refused); anything else is a host token."""
    token = None
    if credentials is not None and credentials.scheme.lower() == "bearer":
        token = credentials.credentials
    account_id, token_error = None, None
    if token is not None and looks_like_access_token(token):
        try:
            account_id = verify_access_token(ctx.settings.key_ring, token, ctx.clock())
        except InvalidAccessToken as exc:
            token_error = str(exc)
    return Caller(
        correlation_id=correlation_id_var.get() or uuid.uuid4().hex,
        client_ip=request_client_ip(request),  # X-Forwarded-For only from trusted proxies
        bearer_token=token,
        account_id=account_id,
        token_error=token_error,
    )


CallerDep = Annotated[Caller, Depends(get_caller)]


def get_anonymous_caller(request: Request) -> Caller:
    """Who asks, for routes that take no bearer (signing in): no security scheme applies."""
    return Caller(
        correlation_id=correlation_id_var.get() or uuid.uuid4().hex,
        client_ip=request_client_ip(request),
        bearer_token=None,
    )


AnonymousCallerDep = Annotated[Caller, Depends(get_anonymous_caller)]


def require_host_account(request: Request, ctx: ContextDep, caller: CallerDep) -> None:
    """With host API keys on, creating a poll needs a key or an account's access token (a
    refusal is audited). A refused access token is a 401 in any case: the poll would
    otherwise be created without its owner."""
    settings = ctx.settings
    if caller.token_error is not None:
        raise HostAuthFailed(401, caller.token_error)
    if not settings.host_auth_enabled or caller.account_id is not None:
        return
    try:
        check_host_account(caller.bearer_token, settings.host_api_keys)
    except HostAuthFailed as failure:
        protection_of(request).record(
            "security.auth_failed",
            request.scope,
            "missing_key" if failure.status_code == 401 else "wrong_key",
            action="create",
            status_code=failure.status_code,
        )
        raise


HostAccountDep = Annotated[None, Depends(require_host_account)]
