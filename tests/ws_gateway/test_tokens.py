"""Resume tokens: signed, bound to one poll, tamper-evident."""

from __future__ import annotations

import uuid

import pytest

from ws_gateway.tokens import InvalidToken, issue_token, verify_token

SECRET = "a-test-secret-that-is-long-enough-000"


def test_round_trip_keeps_identity_even_with_a_pipe_in_the_nickname() -> None:
    poll, person = uuid.uuid4(), uuid.uuid4()
    token = issue_token(SECRET, poll, person, "Ann|Bob é")
    identity = verify_token(SECRET, token, poll)
    assert identity.participant_id == person
    assert identity.nickname == "Ann|Bob é"


def test_a_token_for_another_poll_is_refused() -> None:
    token = issue_token(SECRET, uuid.uuid4(), uuid.uuid4(), "Ann")
    with pytest.raises(InvalidToken, match="another poll"):
        verify_token(SECRET, token, uuid.uuid4())


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature changed
        lambda t: "X" + t,  # payload changed
        lambda t: t.split(".")[0],  # no signature
        lambda t: "",
        lambda t: "...",
        lambda t: "é.é",
    ],
)
def test_tampered_or_malformed_tokens_are_refused(mangle) -> None:
    poll = uuid.uuid4()
    token = issue_token(SECRET, poll, uuid.uuid4(), "Ann")
    with pytest.raises(InvalidToken):
        verify_token(SECRET, mangle(token), poll)


def test_another_secret_does_not_verify() -> None:
    poll = uuid.uuid4()
    token = issue_token(SECRET, poll, uuid.uuid4(), "Ann")
    with pytest.raises(InvalidToken):
        verify_token(SECRET + "x", token, poll)
