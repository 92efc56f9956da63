"""Poll lifecycle: statuses, the public poll view and the events poll-api publishes."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import Contract
from contracts.limits import MAX_OPTION_CHARS, MAX_OPTIONS, MAX_QUESTION_CHARS, MIN_OPTIONS
from contracts.questions import PublicQuestionSpec

ROOM_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L look-alikes
ROOM_CODE_LENGTH = 6
ROOM_CODE_PATTERN = f"^[{ROOM_CODE_ALPHABET}]{{{ROOM_CODE_LENGTH}}}$"
_ROOM_CODE_RE = re.compile(ROOM_CODE_PATTERN)

__all__ = [
    "MAX_OPTIONS",
    "MAX_OPTION_CHARS",
    "MAX_QUESTION_CHARS",
    "MIN_OPTIONS",
    "PollEvent",
    "PollStatus",
    "PollView",
    "QuestionState",
    "normalize_room_code",
]


def normalize_room_code(raw: str) -> str | None:
    """A room code as typed (any case, spaces around) -> its canonical form; None if not one."""
    code = raw.strip().upper()
    return code if _ROOM_CODE_RE.fullmatch(code) else None


class PollStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


PollEventName = Literal[
    "created",
    "opened",
    "closed",
    "revealed",
    "reset",
    "shown",
    "question_added",
    "question_edited",
    "question_deleted",
    "question_moved",
    "deleted",  # the host deleted the poll: each owner of a table removes its rows
]
ClosedBy = Literal["host", "timer"]

MAX_TITLE_CHARS = 200
MAX_QUESTION_SLOTS = 50  # contracts.questions.MAX_QUESTIONS; a question id is never reused


class QuestionState(BaseModel):
    """One question of a poll as every screen may see it: its public spec and its state.

    `qid` is the question's stable id within its poll (0 for the first question created, never
    reused); `index` is its position in the run, which moves when questions are reordered or
    deleted. Answers, ballots and tallies are keyed by `qid`; frames name questions by `index`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    qid: int = Field(ge=0, le=32767)
    index: int = Field(ge=0, lt=MAX_QUESTION_SLOTS)
    spec: PublicQuestionSpec
    status: PollStatus = PollStatus.DRAFT
    revealed: bool = False
    epoch: int = Field(default=0, ge=0, description="Bumped by every reset of this question.")
    opened_at: datetime | None = None
    closes_at: datetime | None = Field(
        default=None, description="Set when a timed question opens: it closes itself then."
    )
    ever_opened: bool = Field(
        default=False, description="Once opened, a question can no longer be edited or deleted."
    )

    @property
    def kind(self) -> str:
        return self.spec.kind


class PollView(BaseModel):
    """What a participant's screen needs to show a poll.

    `questions` is the run, in order, and `current` the index of the question participants see.
    The top-level `question`, `options`, `kind`, `status`, `revealed` and `epoch` mirror the
    current question, so that a reader of the single-question form (version 1) keeps working.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: UUID
    room_code: str = Field(pattern=ROOM_CODE_PATTERN)
    question: str = Field(max_length=MAX_QUESTION_CHARS)
    options: list[str] = Field(
        default_factory=list,
        max_length=MAX_OPTIONS,
        description="The current question's options; empty for a kind without options.",
    )
    status: PollStatus
    revealed: bool = False
    epoch: int = Field(ge=0, description="Bumped by every reset; votes carry their epoch.")
    hide_results_until_reveal: bool = False
    kind: str = Field(default="single", max_length=16)
    title: str | None = Field(default=None, max_length=MAX_TITLE_CHARS)
    current: int = Field(default=0, ge=0, lt=MAX_QUESTION_SLOTS)
    questions: list[QuestionState] = Field(default_factory=list, max_length=MAX_QUESTION_SLOTS)

    def question_at(self, index: int) -> QuestionState | None:
        """The question at position `index`, or None."""
        if 0 <= index < len(self.questions):
            return self.questions[index]
        return None

    def by_qid(self, qid: int) -> QuestionState | None:
        for state in self.questions:
            if state.qid == qid:
                return state
        return None

    @property
    def current_question(self) -> QuestionState | None:
        return self.question_at(self.current)


class PollEvent(Contract):
    """A lifecycle change of a poll, published by poll-api through its outbox.

    Version 2 adds the run of questions to `poll` and names the question the event is about
    (`qid`; None for a poll-wide event such as `created`) and who closed it (`closed_by`).
    Version 3 adds the `deleted` event (the host deleted the poll; each owner removes its rows).
    """

    CONTRACT: ClassVar[str] = "zephyr.poll_event"
    VERSION: ClassVar[int] = 3

    event_id: UUID
    event: PollEventName
    poll: PollView
    state_version: int = Field(ge=0, description="Monotonic per poll; newer wins in caches.")
    occurred_at: datetime
    qid: int | None = Field(default=None, ge=0)
    closed_by: ClosedBy | None = None
