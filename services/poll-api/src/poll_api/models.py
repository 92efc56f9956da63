"""Poll and outbox models: SQLModel families, so the table models never leak to the API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, StringConstraints, field_validator
from sqlalchemy import BigInteger, DateTime, SmallInteger
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from contracts.polls import (
    MAX_OPTION_CHARS,
    MAX_OPTIONS,
    MAX_QUESTION_CHARS,
    MAX_TITLE_CHARS,
    MIN_OPTIONS,
    PollStatus,
    QuestionState,
)
from contracts.questions import QuestionList
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
TitleText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TITLE_CHARS),
    AfterValidator(check_plain_text),
]
TIMESTAMP = DateTime(timezone=True)


class PollSettings(SQLModel):
    # SQLModel types model_config as its own TypedDict; pydantic's ConfigDict is what it merges.
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    hide_results_until_reveal: bool = False
    qa_enabled: bool = Field(default=False, description="The poll has a Q&A board (docs/qa.md).")
    qa_moderated: bool = Field(
        default=False, description="New Q&A items wait for the host's approval."
    )


class PollCreate(SQLModel):
    """The body of `POST /api/polls`: the shorthand `{question, options}` (one single-choice
    question) or a run `{title?, questions: [...]}` of 1 to 50 questions (contracts.questions).

    Which form it is, and that it is only one, is checked by `service.create_poll` (a 422 that
    names the missing or extra field).
    """

    # SQLModel types model_config as its own TypedDict; pydantic's ConfigDict is what it merges.
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    question: QuestionText | None = None
    options: list[OptionText] | None = Field(
        default=None, min_length=MIN_OPTIONS, max_length=MAX_OPTIONS
    )
    kind: Literal["single"] | None = Field(default=None, description="The shorthand's kind.")
    title: TitleText | None = None
    questions: QuestionList | None = Field(
        default=None, description="The run: each question with its `kind` and settings."
    )
    settings: PollSettings = Field(default_factory=PollSettings)
    expires_in_days: int | None = Field(
        default=None, ge=1, le=365, description="Defaults to the service's default_expiry_days."
    )

    @field_validator("options")
    @classmethod
    def _unique_options(cls, options: list[str] | None) -> list[str] | None:
        seen: set[str] = set()
        for option in options or []:
            folded = option.casefold()
            if folded in seen:
                raise ValueError(f"duplicate option (case-insensitive): {option!r}")
            seen.add(folded)
        return options


class Poll(SQLModel, table=True):
    """A row of `polls` (migrations 0001, 0002). `question`, `options`, `kind`, `status`,
    `revealed`, `epoch` and the timestamps mirror the current question (`current_qid`)."""

    __tablename__ = "polls"

    id: uuid.UUID = Field(primary_key=True)
    room_code: str = Field(max_length=6, unique=True)
    question: str = Field(max_length=MAX_QUESTION_CHARS)
    options: list[str] = Field(sa_type=JSONB)
    kind: str = Field(default="single", max_length=16)
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
    title: str | None = None
    current_qid: int = Field(default=0, sa_type=SmallInteger)
    next_qid: int = Field(default=1, sa_type=SmallInteger)
    owner_id: uuid.UUID | None = None  # the host account's (migration 0003), if any


class Question(SQLModel, table=True):
    """A row of `questions` (migration 0002): keyed by the stable `qid`, placed by `position`."""

    __tablename__ = "questions"

    poll_id: uuid.UUID = Field(primary_key=True)
    qid: int = Field(
        primary_key=True, sa_type=SmallInteger, sa_column_kwargs={"autoincrement": False}
    )
    position: int = Field(sa_type=SmallInteger)
    kind: str = Field(max_length=16)
    spec: dict[str, Any] = Field(sa_type=JSONB)
    status: str = Field(default=PollStatus.DRAFT.value, max_length=16)
    revealed: bool = False
    epoch: int = 0
    ever_opened: bool = False
    opened_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    closes_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    closed_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    closed_by: str | None = Field(default=None, max_length=8)
    revealed_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    created_at: datetime = Field(sa_type=TIMESTAMP)
    updated_at: datetime = Field(sa_type=TIMESTAMP)
    # A word cloud's hidden and shown words (migration 0005, contracts.moderation).
    word_moderation: dict[str, str] = Field(default_factory=dict, sa_type=JSONB)


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
    """The current question's counts (the first version's results of a single-choice poll)."""

    counts: list[int]
    total: int
    version: int
    options: list[OptionResult]


class PollPublic(SQLModel):
    """What anyone may see of a poll (never the host token hash, never a quiz's answer).

    The top-level `question`, `options`, `kind`, `status`, `revealed` and `epoch` are the
    current question's; `questions` is the run (public specs) and `current` its index.
    """

    id: uuid.UUID
    room_code: str
    title: str | None
    question: str
    options: list[str]
    kind: str
    status: PollStatus
    revealed: bool
    epoch: int
    hide_results_until_reveal: bool
    qa_enabled: bool = False
    qa_moderated: bool = False
    current: int
    questions: list[QuestionState]
    state_version: int
    participant_count: int
    created_at: datetime
    opened_at: datetime | None
    closed_at: datetime | None
    expires_at: datetime
    results: PollResults | None = Field(
        default=None, description="Present once the host has revealed the current question."
    )


class QuestionHost(SQLModel):
    """A question as its host sees it: the full spec (a quiz's `correct` included)."""

    index: int
    qid: int
    kind: str
    spec: dict[str, Any] = Field(description="The QuestionSpec as created (contracts.questions).")
    status: PollStatus
    revealed: bool
    epoch: int
    ever_opened: bool
    opened_at: datetime | None
    closes_at: datetime | None
    closed_at: datetime | None
    closed_by: Literal["host", "timer"] | None
    current: bool


class QuestionsHost(SQLModel):
    """`GET /api/polls/{room_code}/questions`: the run for its host."""

    current: int
    state_version: int
    questions: list[QuestionHost]


class PollCreated(SQLModel):
    """The body of `201 POST /api/polls`. The host token is shown only here, once."""

    id: uuid.UUID
    room_code: str
    host_token: str
    join_url: str | None = None
    poll: PollPublic
    questions: list[QuestionHost]


class MoveTo(SQLModel):
    """The body of `POST /api/polls/{room_code}/questions/{n}/move`."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    to: int = Field(ge=0, description="The index the question moves to.")
