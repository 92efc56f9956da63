"""Host tokens: long and random, stored as SHA-256, compared in constant time."""

from __future__ import annotations

import hashlib

from poll_api import host_tokens


def test_tokens_are_random_and_stored_as_their_sha256() -> None:
    tokens = {host_tokens.new_host_token() for _ in range(50)}
    assert len(tokens) == 50
    assert all(len(token) >= 43 for token in tokens)  # 32 random bytes, URL-safe
    token = tokens.pop()
    assert host_tokens.hash_token(token) == hashlib.sha256(token.encode()).hexdigest()


def test_only_the_token_itself_matches_its_hash() -> None:
    token = host_tokens.new_host_token()
    stored = host_tokens.hash_token(token)
    assert host_tokens.token_matches(token, stored)
    assert not host_tokens.token_matches(token + "x", stored)
    assert not host_tokens.token_matches("x" * 5000, host_tokens.hash_token("x" * 5000))
