"""Poll lifecycle: statuses, the public poll view and the events poll-api publishes."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import Contract

MAX_OPTIONS = 20
MIN_OPTIONS = 2
MAX_QUESTION_CHARS = 300
MAX_OPTION_CHARS = 120
ROOM_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L look-alikes
ROOM_CODE_LENGTH = 6
ROOM_CODE_PATTERN = f"^[{ROOM_CODE_ALPHABET}]{{{ROOM_CODE_LENGTH}}}$"
_ROOM_CODE_RE = re.compile(ROOM_CODE_PATTERN)


def normalize_room_code(raw: str) -> str | None:
    """A room code as typed (any case, spaces around) -> its canonical form; None if not one."""
    code = raw.strip().upper()
    return code if _ROOM_CODE_RE.fullmatch(code) else None


class PollStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


PollEventName = Literal["created", "opened", "closed", "revealed", "reset"]


class PollView(BaseModel):
    """What a participant's screen needs to show a poll."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: UUID
    room_code: str = Field(pattern=ROOM_CODE_PATTERN)
    question: str = Field(max_length=MAX_QUESTION_CHARS)
    options: list[str] = Field(min_length=MIN_OPTIONS, max_length=MAX_OPTIONS)
    status: PollStatus
    revealed: bool = False
    epoch: int = Field(ge=0, description="Bumped by every reset; votes carry their epoch.")
    hide_results_until_reveal: bool = False


class PollEvent(Contract):
    """A lifecycle change of a poll, published by poll-api through its outbox."""

    CONTRACT: ClassVar[str] = "zephyr.poll_event"
    VERSION: ClassVar[int] = 1

    event_id: UUID
    event: PollEventName
    poll: PollView
    state_version: int = Field(ge=0, description="Monotonic per poll; newer wins in caches.")
    occurred_at: datetime
