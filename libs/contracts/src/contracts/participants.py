"""Participants joining polls, published by the gateway and persisted by vote-worker."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from contracts.base import Contract

MAX_NICKNAME_CHARS = 40


class ParticipantJoined(Contract):
    CONTRACT: ClassVar[str] = "zephyr.participant_joined"
    VERSION: ClassVar[int] = 1

    poll_id: UUID
    participant_id: UUID
    nickname: str = Field(min_length=1, max_length=MAX_NICKNAME_CHARS)
    joined_at: datetime
    resumed: bool = False
