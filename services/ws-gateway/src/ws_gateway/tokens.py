"""Resume tokens: a signed `poll_id|participant_id|nickname`, so identity survives a Redis loss.

Format: base64url(payload) + "." + base64url(HMAC-SHA256(secret, base64url(payload))), unpadded.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from uuid import UUID


class InvalidToken(Exception):
    """The token is malformed, forged, or belongs to another poll."""


@dataclass(frozen=True)
class Identity:
    participant_id: UUID
    nickname: str


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, encoded_payload: str) -> str:
    mac = hmac.new(secret.encode(), encoded_payload.encode("ascii"), hashlib.sha256)
    return _b64encode(mac.digest())


def issue_token(secret: str, poll_id: UUID, participant_id: UUID, nickname: str) -> str:
    payload = _b64encode(f"{poll_id}|{participant_id}|{nickname}".encode())
    return f"{payload}.{_sign(secret, payload)}"


def verify_token(secret: str, token: str, poll_id: UUID) -> Identity:
    """The identity in `token` if it is genuine and issued for `poll_id`; else InvalidToken."""
    payload, sep, signature = token.partition(".")
    if not sep or not payload or not signature:
        raise InvalidToken("malformed token")
    try:
        expected = _sign(secret, payload)
    except UnicodeEncodeError:
        raise InvalidToken("malformed token") from None
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        raise InvalidToken("bad signature")
    try:
        # The nickname may contain "|"; the two UUIDs in front never do.
        token_poll, participant, nickname = _b64decode(payload).decode().split("|", 2)
        token_poll_id, participant_id = UUID(token_poll), UUID(participant)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidToken("malformed token") from None
    if token_poll_id != poll_id:
        raise InvalidToken("token is for another poll")
    return Identity(participant_id, nickname)
