"""Access tokens: signed with the first key of the ring, verified by the `kid` they name."""

from __future__ import annotations

import uuid
from datetime import timedelta

import jwt
import pytest

from contracts import utcnow
from poll_api.accounts.tokens import (
    InvalidAccessToken,
    KeyRing,
    issue_access_token,
    looks_like_access_token,
    verify_access_token,
)
from poll_api.host_tokens import new_host_token

OLD = KeyRing.parse("old:" + "o" * 40)
ROTATED = KeyRing.parse(f"new:{'n' * 40}, old:{'o' * 40}")
NEW_ONLY = KeyRing.parse("new:" + "n" * 40)
ACCOUNT = uuid.uuid4()


def test_rotation_keeps_old_tokens_valid_until_the_old_key_is_dropped() -> None:
    now = utcnow()
    before = issue_access_token(OLD, ACCOUNT, now, 600)
    assert verify_access_token(ROTATED, before, now) == ACCOUNT
    after = issue_access_token(ROTATED, ACCOUNT, now, 600)
    assert jwt.get_unverified_header(after)["kid"] == "new"
    assert verify_access_token(NEW_ONLY, after, now) == ACCOUNT
    with pytest.raises(InvalidAccessToken, match="unknown key"):
        verify_access_token(NEW_ONLY, before, now)


def test_expired_forged_and_foreign_tokens_are_refused() -> None:
    now = utcnow()
    token = issue_access_token(OLD, ACCOUNT, now, 60)
    with pytest.raises(InvalidAccessToken, match="expired"):
        verify_access_token(OLD, token, now + timedelta(seconds=60))
    same_kid_other_secret = KeyRing.parse("old:" + "x" * 40)
    with pytest.raises(InvalidAccessToken, match="signature"):
        verify_access_token(same_kid_other_secret, token, now)
    none_alg = jwt.encode({"sub": str(ACCOUNT), "exp": 2**40, "iat": 0}, None, algorithm="none")
    with pytest.raises(InvalidAccessToken):
        verify_access_token(OLD, none_alg, now)
    refresh_like = jwt.encode(
        {"sub": str(ACCOUNT), "exp": 2**40, "iat": 0, "typ": "refresh"},
        "o" * 40,
        algorithm="HS256",
        headers={"kid": "old"},
    )
    with pytest.raises(InvalidAccessToken, match="not an access token"):
        verify_access_token(OLD, refresh_like, now)


def test_host_tokens_never_look_like_access_tokens() -> None:
    assert not any(looks_like_access_token(new_host_token()) for _ in range(200))
    assert looks_like_access_token(issue_access_token(OLD, ACCOUNT, utcnow(), 60))


@pytest.mark.parametrize("raw", ["", "nokid", ":secret", "a b:secret", "k:s1,k:s2"])
def test_a_malformed_key_ring_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="jwt_keys"):
        KeyRing.parse(raw)
