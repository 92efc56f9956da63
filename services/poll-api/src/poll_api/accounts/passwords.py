"""Password hashes: argon2id with argon2-cffi's defaults (RFC 9106's low-memory profile).

Hashing costs tens of milliseconds and 64 MiB by design, so it runs in a worker thread, never
on the event loop. An unknown e-mail is checked against a dummy hash all the same, so the time
a refused sign-in takes does not tell whether the account exists.
"""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 256  # longer is refused before any hashing: no hashing of megabytes

_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    return _HASHER.hash("a password nobody has, for the timing of unknown accounts")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """Whether `password` matches `stored` (None: an unknown account, always False)."""
    return await asyncio.to_thread(_verify, stored, password)
