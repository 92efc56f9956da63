"""Host accounts: which bearer value may create polls, and the key format."""

from __future__ import annotations

import hashlib

import pytest

from poll_api.errors import HostAuthFailed
from poll_api.host_accounts import check_host_account, key_matches, parse_host_keys

KEY = "k" * 40
KEYS = f"sha256:{hashlib.sha256(KEY.encode()).hexdigest()}, {'z' * 32}"


def test_a_configured_key_may_create_polls() -> None:
    check_host_account(KEY, KEYS)
    check_host_account("z" * 32, KEYS)


@pytest.mark.parametrize(("token", "status"), [(None, 401), ("w" * 40, 403), ("", 403)])
def test_a_missing_key_is_401_and_a_wrong_one_403(token: str | None, status: int) -> None:
    with pytest.raises(HostAuthFailed) as refused:
        check_host_account(token, KEYS)
    assert refused.value.status_code == status
    assert refused.value.reason


def test_host_keys() -> None:
    key = "s" * 32
    digests = parse_host_keys(f"{key}\nsha256:{'0' * 64}")
    assert key_matches(key, digests)
    assert not key_matches("t" * 32, digests)
    with pytest.raises(ValueError, match="at least 32"):
        parse_host_keys("short")
