"""Participants joining polls, published by the gateway and persisted by vote-worker."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from contracts.base import Contract

MAX_NICKNAME_CHARS = 40
# One batch is what joined during one publish round trip of a gateway: far fewer than this.
MAX_JOINS_PER_BATCH = 1000


class ParticipantJoined(Contract):
    CONTRACT: ClassVar[str] = "zephyr.participant_joined"
    VERSION: ClassVar[int] = 1

    poll_id: UUID
    participant_id: UUID
    nickname: str = Field(min_length=1, max_length=MAX_NICKNAME_CHARS)
    joined_at: datetime
    resumed: bool = False


class ParticipantsJoined(Contract):
    """The joins of one gateway's publish round trip in one message: one publisher confirm
    covers them all (a join storm of 10,000 is not 10,000 confirmed messages). vote-worker takes
    this and the single `ParticipantJoined` on the same queue."""

    CONTRACT: ClassVar[str] = "zephyr.participants_joined"
    VERSION: ClassVar[int] = 1

    joins: list[ParticipantJoined] = Field(min_length=1, max_length=MAX_JOINS_PER_BATCH)
