"""Votes on the bus: the gateway publishes them in batches to the `votes` queue."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import Contract
from contracts.polls import MAX_OPTIONS

MAX_VOTES_PER_BATCH = 1000


class Vote(BaseModel):
    """One vote as accepted by a gateway, before the worker records it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vote_id: UUID = Field(description="Unique per cast; the idempotency key of the vote.")
    poll_id: UUID
    participant_id: UUID
    option: int = Field(ge=0, lt=MAX_OPTIONS)
    seq: int = Field(ge=0, description="Per participant, increasing: the latest vote wins.")
    epoch: int = Field(ge=0, description="The poll epoch the vote was accepted in.")
    cast_at: datetime
    client_vote_id: str | None = Field(default=None, max_length=64)


class VoteBatch(Contract):
    """Several votes in one AMQP message: one publisher confirm covers all of them."""

    CONTRACT: ClassVar[str] = "zephyr.vote_batch"
    VERSION: ClassVar[int] = 1

    batch_id: UUID
    gateway_id: str = Field(max_length=128)
    votes: list[Vote] = Field(min_length=1, max_length=MAX_VOTES_PER_BATCH)
