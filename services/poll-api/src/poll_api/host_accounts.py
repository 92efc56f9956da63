"""Host accounts: with `host_auth_enabled`, creating a poll needs a host API key.

The key travels as `Authorization: Bearer <key>`. Missing -> 401, wrong -> 403, nothing is
created, and a sampled `security.auth_failed` event is audited (`api.deps.require_host_account`).
Control actions on a poll keep using that poll's own host token (`host_tokens`).

`host_api_keys` (or `POLL_API_HOST_API_KEYS_FILE`) holds entries separated by commas or new
lines. An entry is either the key itself (at least 32 characters, e.g. from
`python -c "import secrets; print(secrets.token_urlsafe(32))"`) or `sha256:<hex digest>` of it,
so the environment need not hold the key at all. Keys are compared as SHA-256 digests, in
constant time, against every configured digest (no early exit).
"""

from __future__ import annotations

import hashlib
import hmac
import re

from poll_api.errors import HostAuthFailed

MIN_KEY_CHARS = 32
MAX_KEY_CHARS = 512  # longer bearer values are wrong keys, never hashed at length
_DIGEST = re.compile(r"^sha256:([0-9a-f]{64})$")


def parse_host_keys(raw: str) -> tuple[str, ...]:
    """The SHA-256 hex digests of the configured keys; ValueError on a short key."""
    digests: list[str] = []
    for entry in re.split(r"[,\n]", raw):
        entry = entry.strip()
        if not entry:
            continue
        match = _DIGEST.fullmatch(entry.lower())
        if match:
            digests.append(match.group(1))
        elif len(entry) < MIN_KEY_CHARS:
            raise ValueError(f"a host API key must have at least {MIN_KEY_CHARS} characters")
        else:
            digests.append(hashlib.sha256(entry.encode()).hexdigest())
    return tuple(digests)


def key_matches(presented: str, digests: tuple[str, ...]) -> bool:
    if len(presented) > MAX_KEY_CHARS:
        return False
    digest = hashlib.sha256(presented.encode("utf-8", "replace")).hexdigest()
    found = False
    for known in digests:
        found |= hmac.compare_digest(digest, known)
    return found


def check_host_account(token: str | None, configured_keys: str) -> None:
    """Raise HostAuthFailed (401 without a key, 403 with a wrong one) unless `token` is a key."""
    if token is None:
        raise HostAuthFailed(401, "creating polls needs Authorization: Bearer <host API key>")
    if not key_matches(token, parse_host_keys(configured_keys)):
        raise HostAuthFailed(403, "the host API key is not valid")
