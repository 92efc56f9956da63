"""What every screen must see, on the `zephyr.live` topic exchange.

Version 2 of `TallyUpdated` is per question (`qid`) and carries the aggregate of its kind
(`contracts.aggregates`: `counts`, `points`, `mean`, `words`, ...) in `aggregate`; `counts` and
`total` stay at the top level for a single-choice reader of version 1.
"""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from pydantic import Field

from contracts.base import Contract
from contracts.limits import MAX_OPTIONS
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
