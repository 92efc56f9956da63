"""Poll and outbox models: SQLModel families, so the table models never leak to the API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, StringConstraints, field_validator
from sqlalchemy import BigInteger, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from contracts.polls import (
    MAX_OPTION_CHARS,
    MAX_OPTIONS,
    MAX_QUESTION_CHARS,
    MIN_OPTIONS,
    PollStatus,
)
from contracts.text import check_plain_text

# Plain text only (contracts.text: no markup, no control or invisible characters).
QuestionText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_QUESTION_CHARS),
    AfterValidator(check_plain_text),
]
OptionText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_OPTION_CHARS),
    AfterValidator(check_plain_text),
]
TIMESTAMP = DateTime(timezone=True)


class PollSettings(SQLModel):
    # SQLModel types model_config as its own TypedDict; pydantic's ConfigDict is what it merges.
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    hide_results_until_reveal: bool = False


class PollBase(SQLModel):
    question: str = Field(max_length=MAX_QUESTION_CHARS)
    kind: str = Field(default="single", max_length=16)


class PollCreate(PollBase):
    """The body of `POST /api/polls`."""

    # SQLModel types model_config as its own TypedDict; pydantic's ConfigDict is what it merges.
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    question: QuestionText
    options: list[OptionText] = Field(min_length=MIN_OPTIONS, max_length=MAX_OPTIONS)
    kind: Literal["single"] = "single"
    settings: PollSettings = Field(default_factory=PollSettings)
    expires_in_days: int | None = Field(
        default=None, ge=1, le=365, description="Defaults to the service's default_expiry_days."
    )

    @field_validator("options")
    @classmethod
    def _unique_options(cls, options: list[str]) -> list[str]:
        seen: set[str] = set()
        for option in options:
            folded = option.casefold()
            if folded in seen:
                raise ValueError(f"duplicate option (case-insensitive): {option!r}")
            seen.add(folded)
        return options


class Poll(PollBase, table=True):
    """A row of `polls` (created by migration 0001, not by SQLModel)."""

    __tablename__ = "polls"

    id: uuid.UUID = Field(primary_key=True)
    room_code: str = Field(max_length=6, unique=True)
    options: list[str] = Field(sa_type=JSONB)
    status: str = Field(default=PollStatus.DRAFT.value, max_length=16)
    revealed: bool = False
    epoch: int = 0
    state_version: int = Field(default=0, sa_type=BigInteger)
    host_token_hash: str = Field(max_length=64)
    settings: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    created_at: datetime = Field(sa_type=TIMESTAMP)
    updated_at: datetime = Field(sa_type=TIMESTAMP)
    opened_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    closed_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    revealed_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    expires_at: datetime = Field(sa_type=TIMESTAMP)


class OutboxMessage(SQLModel, table=True):
    """A row of `outbox`: one AMQP message committed with the change it announces."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger)
    message_id: uuid.UUID = Field(unique=True)
    exchange: str
    routing_key: str
    message_type: str
    body: dict[str, Any] = Field(sa_type=JSONB)
    headers: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    created_at: datetime = Field(sa_type=TIMESTAMP)
    published_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    attempts: int = 0


class OptionResult(SQLModel):
    index: int
    text: str
    count: int
    percent: float = Field(description="Share of the total, 0 to 100, one decimal.")


class PollResults(SQLModel):
    counts: list[int]
    total: int
    version: int
    options: list[OptionResult]


class ResultsPublic(PollResults):
    """The body of `GET /api/polls/{room_code}/results`."""

    poll_id: uuid.UUID
    room_code: str
    status: PollStatus
    revealed: bool
    epoch: int


class PollPublic(SQLModel):
    """What anyone may see of a poll (never the host token hash)."""

    id: uuid.UUID
    room_code: str
    question: str
    options: list[str]
    kind: str
    status: PollStatus
    revealed: bool
    epoch: int
    hide_results_until_reveal: bool
    state_version: int
    participant_count: int
    created_at: datetime
    opened_at: datetime | None
    closed_at: datetime | None
    expires_at: datetime
    results: PollResults | None = Field(
        default=None, description="Present once the host has revealed the results."
    )


class PollCreated(SQLModel):
    """The body of `201 POST /api/polls`. The host token is shown only here, once."""

    id: uuid.UUID
    room_code: str
    host_token: str
    join_url: str | None = None
    poll: PollPublic
