"""The bodies of the account routes."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from poll_api.accounts.passwords import MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS

# Deliberately plain: one @, no spaces or controls, a dot in the domain. Whether the address
# receives mail is not checked here (no mail is sent).
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Credentials(_Body):
    email: str = Field(min_length=3, max_length=254, examples=["host@example.org"])
    password: str = Field(max_length=MAX_PASSWORD_CHARS)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip()
        if not _EMAIL.match(value):
            raise ValueError("not an e-mail address")
        return value


class SignUp(Credentials):
    password: str = Field(min_length=MIN_PASSWORD_CHARS, max_length=MAX_PASSWORD_CHARS)


class RefreshBody(_Body):
    refresh_token: str = Field(min_length=1, max_length=512)


class PasswordChange(_Body):
    current_password: str = Field(max_length=MAX_PASSWORD_CHARS)
    new_password: str = Field(min_length=MIN_PASSWORD_CHARS, max_length=MAX_PASSWORD_CHARS)


class ClaimBody(_Body):
    host_token: str = Field(min_length=1, max_length=512)


class AccountOut(BaseModel):
    id: uuid.UUID
    email: str


class TokensOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth 2 token type, not a secret
    expires_in: int = Field(description="Seconds until the access token expires")
    account: AccountOut


class MyPoll(BaseModel):
    id: uuid.UUID
    room_code: str
    title: str | None
    status: str
    questions: int
    participants: int
    created_at: datetime
    expires_at: datetime


class MyPolls(BaseModel):
    polls: list[MyPoll]
