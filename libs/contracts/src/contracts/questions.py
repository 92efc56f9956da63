"""The questions of a poll: one model per kind, discriminated by `kind`, and their public view.

A poll is a run of 1 to `MAX_QUESTIONS` questions. Every question has a `prompt` and an
optional `time_limit_s` (required for a quiz); the other settings depend on the kind:

| kind | settings |
|---|---|
| `single` | `options` (2-20) |
| `multiple` | `options` (2-20), `min_choices` (default 1), `max_choices` (default: all) |
| `rating` | `min` 0 or 1 (default 1), `max` up to 10 (default 5), `min_label`, `max_label` |
| `ranking` | `options` (2-10), `rank_count` k (default: all) |
| `wordcloud` | `max_entries` 1-10 (default 3), `profanity_filter` (default on), `banned_words` |
| `quiz` | `options` (2-20), `correct` indexes, `time_limit_s` 5-600, `points` 0/1000/2000 |

Every limit is a validation rule here, so poll-api, the gateway and the worker share one
definition of a valid question. Defaults that depend on other settings ("all options") stay
`None` rather than being filled in, so that editing the options of a draft never leaves a stale
limit behind; `MultipleQuestion.choice_range` and `RankingQuestion.k` resolve them.

Integers are strict: `"3"`, `3.0` and `true` are refused, as an answer's indexes are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)

from contracts.limits import MAX_OPTION_CHARS, MAX_OPTIONS, MAX_QUESTION_CHARS, MIN_OPTIONS
from contracts.text import check_plain_text
from contracts.words import MAX_ENTRY_CHARS, MAX_ENTRY_WORDS, MAX_RAW_ENTRY_CHARS, parse_entry

MIN_QUESTIONS = 1
MAX_QUESTIONS = 50
MAX_RANKING_OPTIONS = 10
MIN_TIME_LIMIT_S = 5
MAX_TIME_LIMIT_S = 600
RATING_MINIMA = (0, 1)
MAX_RATING = 10
DEFAULT_RATING_MIN = 1
DEFAULT_RATING_MAX = 5
MIN_WORD_ENTRIES = 1
MAX_WORD_ENTRIES = 10
DEFAULT_WORD_ENTRIES = 3
MAX_BANNED_WORDS = 200
QUIZ_POINTS = (0, 1000, 2000)
DEFAULT_QUIZ_POINTS = 1000

QuestionKind = Literal["single", "multiple", "rating", "ranking", "wordcloud", "quiz"]
QUESTION_KINDS: tuple[QuestionKind, ...] = (
    "single",
    "multiple",
    "rating",
    "ranking",
    "wordcloud",
    "quiz",
)

# The validation context for data Zephyr stored or published itself: shapes are checked, text is
# read as it is (the text rule was applied when people sent it).
STORED: dict[str, Any] = {"stored": True}


def _plain_text(text: str, info: ValidationInfo) -> str:
    """contracts.text's rule for what people send; a stored spec (`parse_stored_question`) was
    checked when it was written and is read as it is, so a row of an older rule still renders
    (escaped) instead of failing every read of its poll."""
    if info.context and info.context.get("stored"):
        return text
    return check_plain_text(text)


# Plain text only (contracts.text), trimmed, as poll-api's single-question form has it.
Prompt = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_QUESTION_CHARS),
    AfterValidator(_plain_text),
]
OptionLabel = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_OPTION_CHARS),
    AfterValidator(_plain_text),
]
TimeLimit = Annotated[int, Field(ge=MIN_TIME_LIMIT_S, le=MAX_TIME_LIMIT_S)]


def _banned_word(raw: str) -> str:
    """A banned word follows the entry rules (a term longer than an entry could never match)."""
    parse_entry(raw)
    return raw.strip()


BannedWord = Annotated[str, Field(max_length=MAX_RAW_ENTRY_CHARS), AfterValidator(_banned_word)]


def _distinct_labels(options: list[str]) -> list[str]:
    seen: set[str] = set()
    for option in options:
        folded = option.casefold()
        if folded in seen:
            raise ValueError(f"options must be distinct (case-insensitive): {option!r} repeats")
        seen.add(folded)
    return options


class _Question(BaseModel):
    """Fields every kind has. Frozen: an edit is a new, re-validated model."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    kind: str
    prompt: Prompt
    time_limit_s: TimeLimit | None = Field(
        default=None, description="Opening the question sets closes_at = opened_at + this."
    )


class _WithOptions(_Question):
    options: list[OptionLabel] = Field(min_length=MIN_OPTIONS, max_length=MAX_OPTIONS)

    @field_validator("options")
    @classmethod
    def _distinct(cls, options: list[str]) -> list[str]:
        return _distinct_labels(options)


class SingleQuestion(_WithOptions):
    """Choose one option."""

    kind: Literal["single"] = "single"


class MultipleQuestion(_WithOptions):
    """Choose `min_choices` to `max_choices` distinct options (`max_choices` None: all)."""

    kind: Literal["multiple"] = "multiple"
    min_choices: int = Field(default=1, ge=1, le=MAX_OPTIONS)
    max_choices: int | None = Field(default=None, ge=1, le=MAX_OPTIONS)

    @model_validator(mode="after")
    def _choices(self) -> Self:
        low, high = self.choice_range
        if not low <= high <= len(self.options):
            raise ValueError(
                "choices must satisfy 1 <= min_choices <= max_choices <= number of options"
                f" ({len(self.options)})"
            )
        return self

    @property
    def choice_range(self) -> tuple[int, int]:
        """(min_choices, max_choices) with the default resolved."""
        high = len(self.options) if self.max_choices is None else self.max_choices
        return self.min_choices, high


class RatingQuestion(_Question):
    """A value on a scale from `min` (0 or 1) to `max` (at most 10), with optional end labels."""

    kind: Literal["rating"] = "rating"
    min: int = Field(default=DEFAULT_RATING_MIN)
    max: int = Field(default=DEFAULT_RATING_MAX, le=MAX_RATING)
    min_label: OptionLabel | None = None
    max_label: OptionLabel | None = None

    @field_validator("min")
    @classmethod
    def _minimum(cls, value: int) -> int:
        if value not in RATING_MINIMA:
            raise ValueError("min must be 0 or 1")
        return value

    @model_validator(mode="after")
    def _scale(self) -> Self:
        if self.max <= self.min:
            raise ValueError("max must be greater than min")
        return self

    @property
    def size(self) -> int:
        """How many values the scale has (the length of its histogram)."""
        return self.max - self.min + 1


class RankingQuestion(_WithOptions):
    """Order the top `rank_count` (k) of 2 to 10 options (`rank_count` None: all of them)."""

    kind: Literal["ranking"] = "ranking"
    options: list[OptionLabel] = Field(min_length=MIN_OPTIONS, max_length=MAX_RANKING_OPTIONS)
    rank_count: int | None = Field(default=None, ge=1, le=MAX_RANKING_OPTIONS)

    @model_validator(mode="after")
    def _rank_count(self) -> Self:
        if self.rank_count is not None and self.rank_count > len(self.options):
            raise ValueError(
                f"rank_count must be between 1 and the number of options ({len(self.options)})"
            )
        return self

    @property
    def k(self) -> int:
        """How many options an answer ranks, with the default resolved."""
        return len(self.options) if self.rank_count is None else self.rank_count


class WordcloudQuestion(_Question):
    """Up to `max_entries` short entries per participant; filtering is applied by the services."""

    kind: Literal["wordcloud"] = "wordcloud"
    max_entries: int = Field(default=DEFAULT_WORD_ENTRIES, ge=MIN_WORD_ENTRIES, le=MAX_WORD_ENTRIES)
    profanity_filter: bool = True
    banned_words: list[BannedWord] = Field(
        default_factory=list,
        max_length=MAX_BANNED_WORDS,
        description=(
            f"Each 1 to {MAX_ENTRY_WORDS} words, at most {MAX_ENTRY_CHARS} characters;"
            " matched on the normalised form, word by word."
        ),
    )


class QuizQuestion(_WithOptions):
    """Options with the correct ones; timed; a correct answer scores up to `points`."""

    kind: Literal["quiz"] = "quiz"
    correct: list[int] = Field(
        min_length=1,
        max_length=MAX_OPTIONS,
        description="Indexes of the correct options. Never sent to a participant before close.",
    )
    time_limit_s: TimeLimit = Field(
        description="Required for a quiz: the speed points are measured against it."
    )
    points: int = Field(default=DEFAULT_QUIZ_POINTS)

    @field_validator("correct")
    @classmethod
    def _distinct_correct(cls, correct: list[int]) -> list[int]:
        if len(set(correct)) != len(correct):
            raise ValueError("correct options must be distinct")
        return sorted(correct)

    @field_validator("points")
    @classmethod
    def _points(cls, value: int) -> int:
        if value not in QUIZ_POINTS:
            raise ValueError("points must be 0, 1000 or 2000")
        return value

    @model_validator(mode="after")
    def _correct_in_range(self) -> Self:
        if any(not 0 <= index < len(self.options) for index in self.correct):
            raise ValueError(
                f"correct options must be indexes between 0 and {len(self.options) - 1}"
            )
        return self

    @property
    def multiple(self) -> bool:
        """Whether a participant may choose several options (there are several correct ones)."""
        return len(self.correct) > 1


Question = (
    SingleQuestion
    | MultipleQuestion
    | RatingQuestion
    | RankingQuestion
    | WordcloudQuestion
    | QuizQuestion
)
QuestionSpec = Annotated[Question, Field(discriminator="kind")]
QUESTION_ADAPTER: TypeAdapter[Question] = TypeAdapter(QuestionSpec)
QuestionList = Annotated[
    list[QuestionSpec], Field(min_length=MIN_QUESTIONS, max_length=MAX_QUESTIONS)
]
QUESTION_LIST_ADAPTER: TypeAdapter[list[Question]] = TypeAdapter(QuestionList)


def parse_question(data: Any) -> Question:
    """Validate one question of any kind (a dict or JSON-ready data with a `kind`)."""
    return QUESTION_ADAPTER.validate_python(data)


def parse_stored_question(data: Any) -> Question:
    """A question as stored (`questions.spec`): its shape is validated, its text read as it is
    (the text rule was applied when it was written)."""
    return QUESTION_ADAPTER.validate_python(data, context=STORED)


def from_shorthand(question: str, options: Sequence[str]) -> SingleQuestion:
    """The one single-choice question that the shorthand `{"question", "options"}` stands for."""
    return SingleQuestion(prompt=question, options=list(options))


# ---- what a participant may see -----------------------------------------------------------


class WordcloudQuestionView(_Question):
    """A word cloud without the host's banned words (moderation settings are the host's)."""

    kind: Literal["wordcloud"] = "wordcloud"
    max_entries: int = Field(ge=MIN_WORD_ENTRIES, le=MAX_WORD_ENTRIES)
    profanity_filter: bool


class QuizQuestionView(_WithOptions):
    """A quiz without its correct options (invariant 6: never before the question closes).

    `multiple` tells the page whether to offer one choice or several: that there are several
    correct options is part of the question (like "select all that apply"), which ones is not.
    """

    kind: Literal["quiz"] = "quiz"
    time_limit_s: TimeLimit
    points: int
    multiple: bool


PublicQuestion = (
    SingleQuestion
    | MultipleQuestion
    | RatingQuestion
    | RankingQuestion
    | WordcloudQuestionView
    | QuizQuestionView
)
PublicQuestionSpec = Annotated[PublicQuestion, Field(discriminator="kind")]
PUBLIC_QUESTION_ADAPTER: TypeAdapter[PublicQuestion] = TypeAdapter(PublicQuestionSpec)


def public_view(question: Question) -> PublicQuestion:
    """What a participant may see of a question: no correct options, no banned words."""
    if isinstance(question, QuizQuestion):
        return QuizQuestionView.model_validate(
            {
                "prompt": question.prompt,
                "time_limit_s": question.time_limit_s,
                "options": question.options,
                "points": question.points,
                "multiple": question.multiple,
            },
            context=STORED,
        )
    if isinstance(question, WordcloudQuestion):
        return WordcloudQuestionView.model_validate(
            {
                "prompt": question.prompt,
                "time_limit_s": question.time_limit_s,
                "max_entries": question.max_entries,
                "profanity_filter": question.profanity_filter,
            },
            context=STORED,
        )
    return question
