"""Access tokens: JWTs (HS256, PyJWT) with an expiry, signed by a key ring.

`POLL_API_JWT_KEYS` (or `POLL_API_JWT_KEYS_FILE`) holds `kid:secret` entries separated by
commas or new lines. The first entry signs; every entry verifies, chosen by the token's `kid`
header. To rotate: put a new key first, keep the old one until every token it signed has
expired (`access_token_seconds`), then drop it. Claims: `sub` (the account id), `iat`, `exp`,
`typ` = "access". Time comes from the caller (the app's clock), so tests can move it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

import jwt

ALGORITHM = "HS256"
_KID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# A JWT is three base64url parts; host tokens (secrets.token_urlsafe) never hold a dot.
_JWT_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
MAX_TOKEN_CHARS = 2048


class InvalidAccessToken(Exception):
    """The token is not one of ours, is damaged, signed with an unknown key, or expired."""


@dataclass(frozen=True)
class KeyRing:
    keys: dict[str, str]  # kid -> secret, in the order given
    signing_kid: str

    @classmethod
    def parse(cls, raw: str) -> KeyRing:
        keys: dict[str, str] = {}
        for entry in re.split(r"[,\n]", raw):
            entry = entry.strip()
            if not entry:
                continue
            kid, sep, secret = entry.partition(":")
            if not sep or not _KID.match(kid) or not secret:
                raise ValueError("jwt_keys entries are kid:secret (kid: letters, digits, ._-)")
            if kid in keys:
                raise ValueError(f"jwt_keys names the key id {kid!r} twice")
            keys[kid] = secret
        if not keys:
            raise ValueError("jwt_keys holds no key")
        return cls(keys, next(iter(keys)))


def looks_like_access_token(token: str) -> bool:
    return len(token) <= MAX_TOKEN_CHARS and bool(_JWT_SHAPE.match(token))


def issue_access_token(ring: KeyRing, account_id: uuid.UUID, now: datetime, ttl_s: int) -> str:
    claims = {
        "sub": str(account_id),
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + ttl_s,
        "typ": "access",
    }
    return jwt.encode(
        claims, ring.keys[ring.signing_kid], algorithm=ALGORITHM, headers={"kid": ring.signing_kid}
    )


def verify_access_token(ring: KeyRing, token: str, now: datetime) -> uuid.UUID:
    """The account id of a valid token; InvalidAccessToken (with the reason) otherwise."""
    if not looks_like_access_token(token):
        raise InvalidAccessToken("not an access token")
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        secret = ring.keys.get(kid) if isinstance(kid, str) else None
        if secret is None:
            raise InvalidAccessToken("the access token is signed with an unknown key")
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"verify_exp": False, "require": ["sub", "exp", "iat"]},
        )
    except jwt.InvalidTokenError as exc:
        raise InvalidAccessToken("the access token's signature or form is invalid") from exc
    if claims.get("typ") != "access":
        raise InvalidAccessToken("not an access token")
    exp = claims["exp"]
    if not isinstance(exp, int) or exp <= now.timestamp():
        raise InvalidAccessToken("the access token has expired: refresh it")
    try:
        return uuid.UUID(str(claims["sub"]))
    except ValueError as exc:
        raise InvalidAccessToken("the access token's subject is invalid") from exc
