"""What every screen must see, on the `zephyr.live` topic exchange."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import Field

from contracts.base import Contract
from contracts.polls import MAX_OPTIONS, PollView


class TallyUpdated(Contract):
    """The absolute tally of a poll after a recorded batch. Latest `version` wins."""

    CONTRACT: ClassVar[str] = "zephyr.tally_updated"
    VERSION: ClassVar[int] = 1

    poll_id: UUID
    epoch: int = Field(ge=0)
    counts: list[int] = Field(max_length=MAX_OPTIONS)
    total: int = Field(ge=0)
    version: int = Field(ge=0)


class PollStateChanged(Contract):
    """The state of a poll after a lifecycle change. Latest `state_version` wins."""

    CONTRACT: ClassVar[str] = "zephyr.poll_state_changed"
    VERSION: ClassVar[int] = 1

    poll: PollView
    state_version: int = Field(ge=0)
