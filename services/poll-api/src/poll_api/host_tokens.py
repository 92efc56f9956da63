"""Host tokens: the secret that controls one poll, random from `secrets`, stored only hashed."""

from __future__ import annotations

import hashlib
import hmac
import secrets

HOST_TOKEN_BYTES = 32
MAX_TOKEN_CHARS = 512  # longer bearer values are wrong tokens, never hashed at length


def new_host_token() -> str:
    return secrets.token_urlsafe(HOST_TOKEN_BYTES)


def hash_token(token: str) -> str:
    """The SHA-256 hex digest stored in `polls.host_token_hash`."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented token with the stored hash."""
    if len(token) > MAX_TOKEN_CHARS:
        return False
    return hmac.compare_digest(hash_token(token), stored_hash)
