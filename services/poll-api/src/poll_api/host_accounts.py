"""Optional host accounts: with `host_auth_enabled`, creating a poll needs a host API key.

The key travels as `Authorization: Bearer <key>`. Missing -> 401, wrong -> 403, nothing is
created, and a sampled `security.auth_failed` event is audited. Control actions on a poll keep
using that poll's own host token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from poll_api.deps import CallerDep, ContextDep
from poll_api.errors import HostAuthFailed
from poll_api.hardening import hardening_of
from poll_api.host_keys import key_matches, parse_host_keys


def require_host_account(request: Request, ctx: ContextDep, caller: CallerDep) -> None:
    settings = ctx.settings
    if not settings.host_auth_enabled:
        return
    token = caller.bearer_token
    if token is None:
        failure = HostAuthFailed(401, "creating polls needs Authorization: Bearer <host API key>")
    elif not key_matches(token, parse_host_keys(settings.host_api_keys)):
        failure = HostAuthFailed(403, "the host API key is not valid")
    else:
        return
    hardening_of(request).record(
        "security.auth_failed",
        request.scope,
        "missing_key" if failure.status_code == 401 else "wrong_key",
        action="create",
        status_code=failure.status_code,
    )
    raise failure


HostAccountDep = Annotated[None, Depends(require_host_account)]
