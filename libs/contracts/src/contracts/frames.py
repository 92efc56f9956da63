"""WebSocket frames between a participant's screen and ws-gateway (JSON text, `type` field)."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from contracts.answers import AnswerSpec
from contracts.participants import MAX_NICKNAME_CHARS
from contracts.polls import MAX_OPTIONS, MAX_QUESTION_SLOTS, PollStatus, PollView
from contracts.qa import AskedFrame, AskFrame, QaFrame, UpvotedFrame, UpvoteFrame
from contracts.questions import MAX_RANKING_OPTIONS, MAX_WORD_ENTRIES, PublicQuestionSpec
from contracts.text import check_plain_text
from contracts.words import MAX_RAW_ENTRY_CHARS

# Version 2: a poll is a run of questions (`vote {question?, option | options | value |
# ranking | words}`, per-question `tally` and `poll_state`, `joined` with `my_answers`).
# Version 3: `quiz_result` and `leaderboard` after a quiz question closes; `joined` has both.
# Version 4: the Q&A board: `ask`, `upvote` in; `qa`, `asked`, `upvoted` out (contracts.qa).
FRAMES_VERSION = 4
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


ANSWER_FIELD_NAMES = ("option", "options", "value", "ranking", "words")


class VoteFrame(_Frame):
    """An answer to `question` (an index; default: the current question).

    Exactly one answer field, the one of the question's kind; the gateway checks it against
    the question's settings (`contracts.answers.validate_answer`) and refuses the rest with
    `invalid_answer`. The types here are only the outer bounds every kind shares.
    """

    type: Literal["vote"]
    question: int | None = Field(default=None, ge=0, lt=MAX_QUESTION_SLOTS, strict=True)
    option: int | None = Field(default=None, ge=0, lt=MAX_OPTIONS, strict=True)
    options: list[Annotated[int, Field(strict=True)]] | None = Field(
        default=None, max_length=MAX_OPTIONS
    )
    value: int | None = Field(default=None, strict=True)
    ranking: list[Annotated[int, Field(strict=True)]] | None = Field(
        default=None, max_length=MAX_RANKING_OPTIONS
    )
    words: list[Annotated[str, Field(max_length=MAX_RAW_ENTRY_CHARS)]] | None = Field(
        default=None, max_length=MAX_WORD_ENTRIES
    )
    client_vote_id: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$"
    )

    def answer_fields(self) -> dict[str, Any]:
        """The answer field(s) sent, for `validate_answer` (which requires exactly one)."""
        return {
            name: getattr(self, name)
            for name in ANSWER_FIELD_NAMES
            if getattr(self, name) is not None
        }


class PingFrame(_Frame):
    type: Literal["ping"]


ClientFrameUnion = JoinFrame | VoteFrame | PingFrame | AskFrame | UpvoteFrame
ClientFrame = Annotated[ClientFrameUnion, Field(discriminator="type")]
CLIENT_FRAME_ADAPTER: TypeAdapter[ClientFrameUnion] = TypeAdapter(ClientFrame)


# ---- server -> client -------------------------------------------------------------------


class _Aggregate(_Frame):
    """A question's aggregate: the fields of its kind are set (contracts.aggregates)."""

    question: int = Field(default=0, ge=0, description="The question's index in the run.")
    qid: int = Field(default=0, ge=0)
    kind: str = "single"
    total: int
    version: int
    counts: list[int] | None = Field(default=None, description="single, multiple, quiz, rating")
    sum: int | None = Field(default=None, description="rating: the sum of the values")
    mean: str | None = Field(default=None, description="rating: exact mean, 2 decimals")
    points: list[int] | None = Field(default=None, description="ranking: Borda points")
    average: list[str | None] | None = Field(
        default=None, description="ranking: points per respondent, 2 decimals"
    )
    words: list[dict[str, Any]] | None = Field(default=None, description="wordcloud: top 100")
    distinct: int | None = Field(default=None, description="wordcloud: distinct words")


class TallyView(_Aggregate):
    pass


class MyAnswer(_Frame):
    question: int = Field(ge=0, description="The question's index in the run.")
    qid: int = Field(ge=0)
    answer: AnswerSpec


class LeaderboardRowView(_Frame):
    rank: int = Field(ge=1)
    nickname: str
    score: int = Field(ge=0)


class QuizResultFrame(_Frame):
    """A participant's own result after a quiz question closed (docs/quiz.md)."""

    type: Literal["quiz_result"] = "quiz_result"
    question: int = Field(ge=0, description="The question's index in the run.")
    qid: int = Field(ge=0)
    correct: bool = Field(description="Whether their answer was all and only the correct ones.")
    points: int = Field(ge=0, description="Speed points of this question.")
    bonus: int = Field(default=0, ge=0, description="Streak bonus of this question.")
    streak: int = Field(default=0, ge=0)
    score: int = Field(ge=0, description="Total over the quiz questions closed so far.")
    rank: int = Field(ge=1)
    version: int = Field(default=0, ge=0)


class LeaderboardFrame(_Frame):
    """To every screen after a quiz question closed: its correct options and the top ranks."""

    type: Literal["leaderboard"] = "leaderboard"
    question: int = Field(ge=0, description="The question's index in the run.")
    qid: int = Field(ge=0)
    correct_options: list[int] = Field(default_factory=list)
    counts: list[int] = Field(default_factory=list)
    top: list[LeaderboardRowView] = Field(default_factory=list)
    participants: int = Field(default=0, ge=0)
    version: int = Field(default=0, ge=0)


class JoinedFrame(_Frame):
    type: Literal["joined"] = "joined"
    participant_id: UUID
    nickname: str
    resume_token: str
    poll: PollView
    tally: TallyView | None = Field(default=None, description="The current question's.")
    my_vote: int | None = Field(
        default=None, description="Version 1: the current single-choice question's answer."
    )
    current: int = Field(default=0, ge=0)
    my_answers: list[MyAnswer] = Field(default_factory=list)
    server_time: datetime | None = None
    quiz_result: QuizResultFrame | None = Field(
        default=None, description="Their result after the latest scored quiz question."
    )
    leaderboard: LeaderboardFrame | None = Field(
        default=None, description="The latest leaderboard of the poll's quiz."
    )


class VoteAcceptedFrame(_Frame):
    type: Literal["vote_accepted"] = "vote_accepted"
    vote_id: UUID
    option: int | None = Field(default=None, description="Set for a single-choice answer.")
    question: int = Field(default=0, ge=0)
    qid: int = Field(default=0, ge=0)
    answer: AnswerSpec | None = None
    client_vote_id: str | None = None


class TallyFrame(_Aggregate):
    type: Literal["tally"] = "tally"


class PollStateFrame(_Frame):
    """The state of `question` (by default the current one) and which question is current.

    `closes_at` and `server_time` let a page run a countdown that is right whatever its own
    clock says: remaining = closes_at - server_time, counted from when the frame arrived.
    """

    type: Literal["poll_state"] = "poll_state"
    status: PollStatus
    revealed: bool
    epoch: int
    current: int = Field(default=0, ge=0)
    question: int = Field(default=0, ge=0)
    qid: int = Field(default=0, ge=0)
    spec: PublicQuestionSpec | None = None
    closes_at: datetime | None = None
    server_time: datetime | None = None


ErrorCode = Literal[
    "invalid_frame",
    "rate_limited",
    "poll_closed",
    "nickname_taken",
    "not_joined",
    "already_joined",
    "unknown_poll",
    "invalid_option",
    "invalid_answer",
    "answer_locked",
    "question_closed",
    "unknown_question",
    "invalid_token",
    "unavailable",
    "overloaded",
    "qa_disabled",
    "unknown_item",
    "own_item",
]


class ErrorFrame(_Frame):
    type: Literal["error"] = "error"
    code: ErrorCode
    message: str
    retry_after: float | None = Field(default=None, description="Seconds, when retrying helps.")


class PongFrame(_Frame):
    type: Literal["pong"] = "pong"


ServerFrameUnion = (
    JoinedFrame
    | VoteAcceptedFrame
    | TallyFrame
    | PollStateFrame
    | QuizResultFrame
    | LeaderboardFrame
    | ErrorFrame
    | PongFrame
    | QaFrame
    | AskedFrame
    | UpvotedFrame
)
ServerFrame = Annotated[ServerFrameUnion, Field(discriminator="type")]
SERVER_FRAME_ADAPTER: TypeAdapter[ServerFrameUnion] = TypeAdapter(ServerFrame)
