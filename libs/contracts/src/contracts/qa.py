"""The Q&A board: participants ask and upvote, the host moderates (docs/qa.md).

An item's `status` is `pending` (awaiting moderation: only the host sees it), `approved`,
`hidden` or `answered`; `pinned` is a flag. Screens see approved and answered items, sorted
pinned first, then by score, then oldest first (`board_order`).

On the bus, every change is a `QaAction` in a `QaActions` message on the `qa` queue: asks and
upvotes from the gateways (published with confirms, acknowledged to the participant only after
the confirm), moderation from poll-api's outbox. Each action carries a `seq`: per participant
and item the upvote with the highest seq wins, per item and field (status, pin) the moderation
with the highest seq wins, so a redelivered or reordered action never counts twice.
vote-worker records them and publishes the board of visible items (`QaBoardUpdated`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, Protocol, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts.base import Contract
from contracts.text import check_plain_text

MIN_QA_CHARS = 2
MAX_QA_CHARS = 300
# Asks a gateway accepts per poll (a counter in Redis); the board a screen gets is at most this.
MAX_QA_ITEMS = 200
MAX_QA_ACTIONS = 500

QaStatus = Literal["pending", "approved", "hidden", "answered"]
VISIBLE_STATUSES: frozenset[str] = frozenset({"approved", "answered"})
QaModeration = Literal["approve", "hide", "answered", "pin", "unpin"]
# What each moderation sets: a status, or the pin.
STATUS_OF: dict[str, QaStatus] = {"approve": "approved", "hide": "hidden", "answered": "answered"}


def check_question_text(raw: str) -> str:
    """A question as typed, trimmed: 2 to 300 characters of plain text.

    Refused: markup (contracts.text), control characters (a new line too: an item is one
    line), bidirectional overrides and isolates, zero-width and other format characters,
    unassigned and private-use code points. Nothing is stripped silently: what is stored is
    what was typed.
    """
    text = raw.strip()
    for ch in text:
        if unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn"}:
            raise ValueError(
                "text contains control, formatting or invisible characters (plain text only)"
            )
    if not MIN_QA_CHARS <= len(text) <= MAX_QA_CHARS:
        raise ValueError(f"a question must be {MIN_QA_CHARS} to {MAX_QA_CHARS} characters")
    return check_plain_text(text)


class _Frame(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---- frames: client -> server -------------------------------------------------------------


class AskFrame(_Frame):
    """Ask a question on the board (answered `asked`, after the broker confirmed it)."""

    type: Literal["ask"]
    text: str = Field(max_length=4 * MAX_QA_CHARS)
    client_ask_id: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$"
    )

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        return check_question_text(value)


class UpvoteFrame(_Frame):
    """Upvote (`up: true`) or take back an upvote (`up: false`) of another's item."""

    type: Literal["upvote"]
    item: UUID
    up: bool = Field(default=True, strict=True)


# ---- frames: server -> client -------------------------------------------------------------


class QaItemView(_Frame):
    id: UUID
    text: str
    score: int = Field(ge=0)
    status: QaStatus
    pinned: bool = False


class QaFrame(_Frame):
    """The board as participants see it: approved and answered items, in board order.
    Coalesced like tallies: the latest `version` wins, never one frame per upvote."""

    type: Literal["qa"] = "qa"
    items: list[QaItemView] = Field(default_factory=list, max_length=MAX_QA_ITEMS)
    version: int = Field(ge=0)


class AskedFrame(_Frame):
    """The ask is safe on the broker: it will be on the board (after approval if moderated)."""

    type: Literal["asked"] = "asked"
    item: UUID
    status: QaStatus
    client_ask_id: str | None = None


class UpvotedFrame(_Frame):
    """The upvote (or its withdrawal) is safe on the broker and will count."""

    type: Literal["upvoted"] = "upvoted"
    item: UUID
    up: bool


# ---- the bus ----------------------------------------------------------------------------


class _Action(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    action_id: UUID = Field(description="Unique per action: audit event ids derive from it.")
    poll_id: UUID
    item_id: UUID
    seq: int = Field(ge=0, le=2**63 - 1)
    occurred_at: datetime


class QaAsk(_Action):
    kind: Literal["ask"] = "ask"
    participant_id: UUID
    text: str = Field(max_length=MAX_QA_CHARS)

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        return check_question_text(value)


class QaUpvote(_Action):
    kind: Literal["upvote"] = "upvote"
    participant_id: UUID
    up: bool


class QaModerate(_Action):
    kind: Literal["moderate"] = "moderate"
    moderation: QaModeration


QaAction = Annotated[QaAsk | QaUpvote | QaModerate, Field(discriminator="kind")]


class QaActions(Contract):
    """Q&A actions for the vote-worker, on the `qa` queue (one confirm covers them all)."""

    CONTRACT: ClassVar[str] = "zephyr.qa_actions"
    VERSION: ClassVar[int] = 1

    actions: list[QaAction] = Field(min_length=1, max_length=MAX_QA_ACTIONS)


class QaBoardItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: UUID
    text: str = Field(max_length=MAX_QA_CHARS)
    score: int = Field(ge=0)
    status: QaStatus
    pinned: bool = False
    asked_at: datetime
    author: UUID = Field(description="For the gateways (no upvote of one's own item); never sent.")


class QaBoardUpdated(Contract):
    """A poll's visible board (approved and answered items, board order) after a change.

    Published by the vote-worker on `poll.<id>.qa` once the change is committed; latest
    `version` (per poll, monotonic) wins. Pending and hidden items are never in it, so no
    gateway can send a participant an item the host has not released (invariant 6).
    """

    CONTRACT: ClassVar[str] = "zephyr.qa_board"
    VERSION: ClassVar[int] = 1

    poll_id: UUID
    version: int = Field(ge=0)
    items: list[QaBoardItem] = Field(default_factory=list)

    def frame(self) -> QaFrame:
        return QaFrame(
            items=[
                QaItemView(
                    id=item.id,
                    text=item.text,
                    score=item.score,
                    status=item.status,
                    pinned=item.pinned,
                )
                for item in self.items[:MAX_QA_ITEMS]
            ],
            version=self.version,
        )


class _Sortable(Protocol):
    @property
    def pinned(self) -> bool: ...
    @property
    def score(self) -> int: ...
    @property
    def asked_at(self) -> datetime: ...
    @property
    def id(self) -> UUID: ...


def board_key(item: _Sortable) -> tuple[Any, ...]:
    """Pinned first, then the highest score, then the oldest (then the id, for a total order)."""
    return (not item.pinned, -item.score, item.asked_at, str(item.id))


S = TypeVar("S", bound=_Sortable)


def board_order(items: Iterable[S]) -> list[S]:
    return sorted(items, key=board_key)
