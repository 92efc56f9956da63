"""WebSocket frames between a participant's screen and ws-gateway (JSON text, `type` field)."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from contracts.participants import MAX_NICKNAME_CHARS
from contracts.polls import MAX_OPTIONS, PollStatus, PollView
from contracts.text import check_plain_text

FRAMES_VERSION = 1
MAX_FRAME_BYTES = 4096

_ZERO_WIDTH = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u180e"}


def normalize_nickname(raw: str) -> str:
    """NFKC-normalise and trim a nickname; refuse control, format and zero-width characters."""
    text = unicodedata.normalize("NFKC", raw).strip()
    for ch in text:
        if ch in _ZERO_WIDTH or unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn"}:
            raise ValueError("nickname contains control or invisible characters")
    if not 1 <= len(text) <= MAX_NICKNAME_CHARS:
        raise ValueError(f"nickname must be 1 to {MAX_NICKNAME_CHARS} characters")
    return check_plain_text(text)


class _Frame(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---- client -> server -------------------------------------------------------------------


class JoinFrame(_Frame):
    type: Literal["join"]
    nickname: str = Field(max_length=4 * MAX_NICKNAME_CHARS)
    resume_token: str | None = Field(default=None, max_length=512)

    @field_validator("nickname")
    @classmethod
    def _nickname(cls, value: str) -> str:
        return normalize_nickname(value)


class VoteFrame(_Frame):
    type: Literal["vote"]
    option: int = Field(ge=0, lt=MAX_OPTIONS, strict=True)
    client_vote_id: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$"
    )


class PingFrame(_Frame):
    type: Literal["ping"]


ClientFrame = Annotated[JoinFrame | VoteFrame | PingFrame, Field(discriminator="type")]
CLIENT_FRAME_ADAPTER: TypeAdapter[JoinFrame | VoteFrame | PingFrame] = TypeAdapter(ClientFrame)


# ---- server -> client -------------------------------------------------------------------


class TallyView(_Frame):
    counts: list[int]
    total: int
    version: int


class JoinedFrame(_Frame):
    type: Literal["joined"] = "joined"
    participant_id: UUID
    nickname: str
    resume_token: str
    poll: PollView
    tally: TallyView | None = None
    my_vote: int | None = None


class VoteAcceptedFrame(_Frame):
    type: Literal["vote_accepted"] = "vote_accepted"
    vote_id: UUID
    option: int
    client_vote_id: str | None = None


class TallyFrame(_Frame):
    type: Literal["tally"] = "tally"
    counts: list[int]
    total: int
    version: int


class PollStateFrame(_Frame):
    type: Literal["poll_state"] = "poll_state"
    status: PollStatus
    revealed: bool
    epoch: int


ErrorCode = Literal[
    "invalid_frame",
    "rate_limited",
    "poll_closed",
    "nickname_taken",
    "not_joined",
    "already_joined",
    "unknown_poll",
    "invalid_option",
    "invalid_token",
    "unavailable",
    "overloaded",
]


class ErrorFrame(_Frame):
    type: Literal["error"] = "error"
    code: ErrorCode
    message: str
    retry_after: float | None = Field(default=None, description="Seconds, when retrying helps.")


class PongFrame(_Frame):
    type: Literal["pong"] = "pong"


ServerFrame = Annotated[
    JoinedFrame | VoteAcceptedFrame | TallyFrame | PollStateFrame | ErrorFrame | PongFrame,
    Field(discriminator="type"),
]
SERVER_FRAME_ADAPTER: TypeAdapter[
    JoinedFrame | VoteAcceptedFrame | TallyFrame | PollStateFrame | ErrorFrame | PongFrame
] = TypeAdapter(ServerFrame)
