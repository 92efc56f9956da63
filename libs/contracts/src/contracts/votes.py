"""Votes on the bus: the gateway publishes them in batches to the `votes` queue.

Version 2 carries the question (`qid`, its stable id in the poll) and the answer of any kind
(`answer`, discriminated by `kind`). A version-1 vote (`option` only, no question) still reads:
it is a single-choice answer to question 0, the only question a version-1 poll has, so a
gateway of the previous release can keep publishing while a deployment rolls.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.answers import AnswerSpec, SingleAnswer
from contracts.base import Contract
from contracts.limits import MAX_OPTIONS

MAX_VOTES_PER_BATCH = 1000
VOTE_BATCH_TYPES = ("zephyr.vote_batch.v1", "zephyr.vote_batch.v2")


class Vote(BaseModel):
    """One answer as accepted by a gateway, before the worker records it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vote_id: UUID = Field(description="Unique per cast; the idempotency key of the vote.")
    poll_id: UUID
    participant_id: UUID
    qid: int = Field(default=0, ge=0, le=32767, description="The question's stable id.")
    answer: AnswerSpec
    option: int | None = Field(
        default=None,
        ge=0,
        lt=MAX_OPTIONS,
        description="Version 1's answer field; set for a single-choice answer, else null.",
    )
    seq: int = Field(ge=0, description="Per participant, increasing: the latest vote wins.")
    epoch: int = Field(ge=0, description="The question's epoch the vote was accepted in.")
    cast_at: datetime
    client_vote_id: str | None = Field(default=None, max_length=64)

    @model_validator(mode="before")
    @classmethod
    def _version_1(cls, data: Any) -> Any:
        """A version-1 vote (`option`, no `answer`) is a single-choice answer to question 0."""
        if isinstance(data, dict) and "answer" not in data and data.get("option") is not None:
            return {**data, "answer": {"kind": "single", "option": data["option"]}}
        return data

    @model_validator(mode="after")
    def _option_mirrors_answer(self) -> Vote:
        if isinstance(self.answer, SingleAnswer):
            if self.option is not None and self.option != self.answer.option:
                raise ValueError("option and answer disagree")
        elif self.option is not None:
            raise ValueError("option is set only for a single-choice answer")
        return self


def single_vote_option(vote: Vote) -> int | None:
    """The option of a single-choice vote (None for other kinds)."""
    return vote.answer.option if isinstance(vote.answer, SingleAnswer) else None


class VoteBatch(Contract):
    """Several votes in one AMQP message: one publisher confirm covers all of them."""

    CONTRACT: ClassVar[str] = "zephyr.vote_batch"
    VERSION: ClassVar[int] = 2

    batch_id: UUID
    gateway_id: str = Field(max_length=128)
    votes: list[Vote] = Field(min_length=1, max_length=MAX_VOTES_PER_BATCH)
