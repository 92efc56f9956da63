"""What every screen must see, on the `zephyr.live` topic exchange.

Version 2 of `TallyUpdated` is per question (`qid`) and carries the aggregate of its kind
(`contracts.aggregates`: `counts`, `points`, `mean`, `words`, ...) in `aggregate`; `counts` and
`total` stay at the top level for a single-choice reader of version 1.

`QuizScored` follows the close of a quiz question (docs/quiz.md): the leaderboard and the
correct options; each participant's own result is in Redis (`RedisKeys.quiz_results`).
"""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import Contract
from contracts.limits import MAX_OPTIONS
from contracts.participants import MAX_NICKNAME_CHARS
from contracts.polls import PollView


class TallyUpdated(Contract):
    """The absolute aggregate of one question after a recorded batch. Latest `version` wins."""

    CONTRACT: ClassVar[str] = "zephyr.tally_updated"
    VERSION: ClassVar[int] = 2

    poll_id: UUID
    qid: int = Field(default=0, ge=0, le=32767)
    kind: str = Field(default="single", max_length=16)
    epoch: int = Field(ge=0)
    counts: list[int] = Field(
        default_factory=list, max_length=MAX_OPTIONS, description="Option counts; [] if none."
    )
    total: int = Field(ge=0)
    version: int = Field(ge=0, description="Per question, monotonic.")
    aggregate: dict[str, Any] = Field(
        default_factory=dict,
        description="The kind's tally (contracts.aggregates.Tally), `kind` and `total` included.",
    )


class PollStateChanged(Contract):
    """The state of a poll after a lifecycle change. Latest `state_version` wins.

    Version 2: `poll` carries the run of questions and `qid` the question that changed.
    """

    CONTRACT: ClassVar[str] = "zephyr.poll_state_changed"
    VERSION: ClassVar[int] = 2

    poll: PollView
    state_version: int = Field(ge=0)
    qid: int | None = Field(default=None, ge=0)


MAX_LEADERBOARD_TOP = 100


class LeaderboardEntry(BaseModel):
    """One row of a leaderboard: competition rank, then nickname and total score."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rank: int = Field(ge=1)
    nickname: str = Field(max_length=4 * MAX_NICKNAME_CHARS)
    score: int = Field(ge=0)


class QuizScored(Contract):
    """The scores of a poll's quiz after a quiz question closed (or its score changed).

    Published by the vote-worker on `poll.<id>.quiz` after it has stored every score and
    written each participant's result to Redis. Latest `version` (per poll) wins.
    """

    CONTRACT: ClassVar[str] = "zephyr.quiz_scored"
    VERSION: ClassVar[int] = 1

    poll_id: UUID
    qid: int = Field(ge=0, le=32767, description="The quiz question whose close was scored.")
    epoch: int = Field(ge=0)
    correct_options: list[int] = Field(max_length=MAX_OPTIONS)
    counts: list[int] = Field(default_factory=list, max_length=MAX_OPTIONS)
    top: list[LeaderboardEntry] = Field(max_length=MAX_LEADERBOARD_TOP)
    participants: int = Field(ge=0, description="How many participants are ranked.")
    version: int = Field(ge=0, description="Per poll, monotonic.")
