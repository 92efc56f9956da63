"""WebSocket frames of a host's live connection, `/ws/{room_code}/host` (docs/api.md).

The browser cannot set headers on a WebSocket, so the first client frame authenticates:
`host {token}`, with whatever poll-api accepts on a host route (the host token, the owning
account's access token, a host link `hl-...`). The gateway then pushes `host_ready`, the
`poll_state` of every question, a `tally` of every question (also while its results are
hidden: the host may see them before the reveal), the `qa` board, `presence` and `changed`.
A host connection never joins, never votes and never counts as a participant.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from contracts.frames import ErrorFrame, PingFrame, PollStateFrame, PongFrame, TallyFrame
from contracts.qa import QaFrame

HOST_FRAMES_VERSION = 1
MAX_HOST_TOKEN_CHARS = 2048


class _Frame(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HostAuthFrame(_Frame):
    """The first frame a host connection sends."""

    type: Literal["host"]
    token: str = Field(min_length=1, max_length=MAX_HOST_TOKEN_CHARS)


class HostReadyFrame(_Frame):
    """The token was accepted: frames about the poll follow."""

    type: Literal["host_ready"] = "host_ready"
    poll_id: UUID
    room_code: str


class PresenceFrame(_Frame):
    """Who is there, pushed at most about once a second and only when it changed.

    `connected`: participant sockets connected to this poll now, on every gateway;
    `joined`: participants who ever joined it; `answers`: respondents of the current
    question (`question`, its index) in its current epoch.
    """

    type: Literal["presence"] = "presence"
    connected: int = Field(ge=0)
    joined: int = Field(ge=0)
    answers: int = Field(ge=0)
    question: int = Field(ge=0)


class ChangedFrame(_Frame):
    """Something the console reads over HTTP changed: `qa` (the host's queue: any ask,
    upvote or moderation), `words` (the word list of question `question`) or `leaderboard`
    (a quiz question was scored)."""

    type: Literal["changed"] = "changed"
    what: Literal["qa", "words", "leaderboard"]
    question: int | None = None
    version: int = Field(ge=0)


HostClientFrameUnion = HostAuthFrame | PingFrame
HostClientFrame = Annotated[HostClientFrameUnion, Field(discriminator="type")]
HOST_CLIENT_FRAME_ADAPTER: TypeAdapter[HostClientFrameUnion] = TypeAdapter(HostClientFrame)

HostServerFrameUnion = (
    HostReadyFrame
    | PresenceFrame
    | ChangedFrame
    | PollStateFrame
    | TallyFrame
    | QaFrame
    | ErrorFrame
    | PongFrame
)
HostServerFrame = Annotated[HostServerFrameUnion, Field(discriminator="type")]
HOST_SERVER_FRAME_ADAPTER: TypeAdapter[HostServerFrameUnion] = TypeAdapter(HostServerFrame)
