"""Answers: what a participant sends for each kind of question, and the server-side check.

The `vote` frame carries one answer field, chosen by the question's kind:

| kind | field |
|---|---|
| `single` | `option: int` |
| `multiple` | `options: [int]` |
| `rating` | `value: int` |
| `ranking` | `ranking: [int]` (best first) |
| `wordcloud` | `words: [str]` (replaces the participant's entries) |
| `quiz` | `option: int` or `options: [int]` |

`validate_answer(question, fields)` checks every limit of the question and returns the
*normalised* answer: indexes of `multiple` and `quiz` sorted (their order means nothing), a quiz's
`option` turned into `options`, word entries as their spellings with duplicates (same normalised
word) collapsed to the first. Whatever breaks a rule raises `InvalidAnswer` whose message names
the rule, ready for an `invalid_answer` error frame.

The answer models carry `kind` so that a stored or published answer is self-describing
(`ANSWER_ADAPTER` reads any of them back). Their own validation holds what is true whatever the
question (non-negative, distinct, within the global maxima); only `validate_answer` knows the
question's limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal, overload

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from contracts.limits import MAX_OPTIONS
from contracts.questions import (
    MAX_RANKING_OPTIONS,
    MAX_RATING,
    MAX_WORD_ENTRIES,
    MultipleQuestion,
    PublicQuestion,
    Question,
    QuestionKind,
    QuizQuestion,
    QuizQuestionView,
    RankingQuestion,
    RatingQuestion,
    SingleQuestion,
    WordcloudQuestion,
    WordcloudQuestionView,
)
from contracts.words import MAX_RAW_ENTRY_CHARS, parse_entry


class InvalidAnswer(ValueError):
    """An answer that breaks a rule of its question; `rule` says which, for the participant."""

    def __init__(self, rule: str) -> None:
        super().__init__(rule)
        self.rule = rule


OptionIndex = Annotated[int, Field(ge=0, lt=MAX_OPTIONS)]


def _distinct_sorted(indexes: list[int]) -> list[int]:
    if len(set(indexes)) != len(indexes):
        raise ValueError("options must be distinct")
    return sorted(indexes)


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class SingleAnswer(_Answer):
    kind: Literal["single"] = "single"
    option: OptionIndex


class MultipleAnswer(_Answer):
    kind: Literal["multiple"] = "multiple"
    options: list[OptionIndex] = Field(min_length=1, max_length=MAX_OPTIONS)

    @field_validator("options")
    @classmethod
    def _normalise(cls, options: list[int]) -> list[int]:
        return _distinct_sorted(options)


class RatingAnswer(_Answer):
    kind: Literal["rating"] = "rating"
    value: int = Field(ge=0, le=MAX_RATING)


class RankingAnswer(_Answer):
    """Option indexes best first: the option at position p earns k - p Borda points."""

    kind: Literal["ranking"] = "ranking"
    ranking: list[OptionIndex] = Field(min_length=1, max_length=MAX_RANKING_OPTIONS)

    @field_validator("ranking")
    @classmethod
    def _distinct(cls, ranking: list[int]) -> list[int]:
        if len(set(ranking)) != len(ranking):
            raise ValueError("ranked options must be distinct")
        return ranking


class WordcloudAnswer(_Answer):
    """The participant's entries as spellings (contracts.words), one per normalised word."""

    kind: Literal["wordcloud"] = "wordcloud"
    words: list[Annotated[str, Field(max_length=MAX_RAW_ENTRY_CHARS)]] = Field(
        min_length=1, max_length=MAX_WORD_ENTRIES
    )

    @field_validator("words")
    @classmethod
    def _normalise(cls, words: list[str]) -> list[str]:
        return _collapse(words)

    @property
    def keys(self) -> list[str]:
        """The normalised word of each entry, in order (what the aggregate counts)."""
        return [parse_entry(word).key for word in self.words]


class QuizAnswer(_Answer):
    kind: Literal["quiz"] = "quiz"
    options: list[OptionIndex] = Field(min_length=1, max_length=MAX_OPTIONS)

    @field_validator("options")
    @classmethod
    def _normalise(cls, options: list[int]) -> list[int]:
        return _distinct_sorted(options)


Answer = SingleAnswer | MultipleAnswer | RatingAnswer | RankingAnswer | WordcloudAnswer | QuizAnswer
AnswerSpec = Annotated[Answer, Field(discriminator="kind")]
ANSWER_ADAPTER: TypeAdapter[Answer] = TypeAdapter(AnswerSpec)

# How error messages name a kind: "a multiple-choice question", "a word-cloud question".
KIND_NAMES: dict[QuestionKind, str] = {
    "single": "single-choice",
    "multiple": "multiple-choice",
    "rating": "rating",
    "ranking": "ranking",
    "wordcloud": "word-cloud",
    "quiz": "quiz",
}

# The vote-frame field(s) that carry the answer, per kind.
ANSWER_FIELDS: dict[QuestionKind, tuple[str, ...]] = {
    "single": ("option",),
    "multiple": ("options",),
    "rating": ("value",),
    "ranking": ("ranking",),
    "wordcloud": ("words",),
    "quiz": ("option", "options"),
}


def _collapse(raw: list[str]) -> list[str]:
    """Spellings of the entries, the first of each normalised word kept (ValueError per rule)."""
    seen: set[str] = set()
    spellings: list[str] = []
    for text in raw:
        entry = parse_entry(text)
        if entry.key not in seen:
            seen.add(entry.key)
            spellings.append(entry.spelling)
    return spellings


# ---- the server-side check ----------------------------------------------------------------


def _is_int(value: object) -> bool:
    # bool is an int in Python and `true` is not an option index.
    return isinstance(value, int) and not isinstance(value, bool)


def _index(value: object, name: str, count: int) -> int:
    if not _is_int(value):
        raise InvalidAnswer(f"{name} must be an integer")
    assert isinstance(value, int)
    if not 0 <= value < count:
        raise InvalidAnswer(f"{name} must be between 0 and {count - 1}")
    return value


def _indexes(value: object, name: str, count: int) -> list[int]:
    if not isinstance(value, list) or not all(_is_int(item) for item in value):
        raise InvalidAnswer(f"{name} must be a list of integers")
    return [_index(item, "each option", count) for item in value]


def _choose(low: int, high: int) -> str:
    noun = "option" if high == 1 else "options"
    return f"choose exactly {low} {noun}" if low == high else f"choose {low} to {high} {noun}"


def _field(kind: QuestionKind, fields: Mapping[str, object]) -> tuple[str, object]:
    """The one answer field of `fields` for this kind (a `kind` key must match the question)."""
    if "kind" in fields and fields["kind"] != kind:
        # Never echo what was sent: it may be long or meant for someone else's screen.
        raise InvalidAnswer(f"this is a {KIND_NAMES[kind]} question")
    names = ANSWER_FIELDS[kind]
    given = [name for name in fields if name != "kind"]
    if len(given) != 1 or given[0] not in names:
        expected = " or ".join(f"'{name}'" for name in names)
        raise InvalidAnswer(f"a {KIND_NAMES[kind]} question is answered with {expected} only")
    return given[0], fields[given[0]]


def _single(question: SingleQuestion, value: object) -> SingleAnswer:
    return SingleAnswer(option=_index(value, "option", len(question.options)))


def _multiple(question: MultipleQuestion, value: object) -> MultipleAnswer:
    options = _indexes(value, "options", len(question.options))
    if len(set(options)) != len(options):
        raise InvalidAnswer("options must be distinct")
    low, high = question.choice_range
    if not low <= len(options) <= high:
        raise InvalidAnswer(_choose(low, high))
    return MultipleAnswer(options=options)


def _rating(question: RatingQuestion, value: object) -> RatingAnswer:
    if not _is_int(value):
        raise InvalidAnswer("value must be an integer")
    assert isinstance(value, int)
    if not question.min <= value <= question.max:
        raise InvalidAnswer(f"value must be between {question.min} and {question.max}")
    return RatingAnswer(value=value)


def _ranking(question: RankingQuestion, value: object) -> RankingAnswer:
    rule = f"rank exactly {question.k} distinct options"
    if not isinstance(value, list) or not all(_is_int(item) for item in value):
        raise InvalidAnswer("ranking must be a list of integers")
    if len(value) != question.k:
        raise InvalidAnswer(rule)
    ranking = [_index(item, "each ranked option", len(question.options)) for item in value]
    if len(set(ranking)) != len(ranking):
        raise InvalidAnswer(rule)
    return RankingAnswer(ranking=ranking)


def _wordcloud(
    question: WordcloudQuestion | WordcloudQuestionView, value: object
) -> WordcloudAnswer:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidAnswer("words must be a list of texts")
    # Counted as sent, before duplicates collapse: the page offers max_entries fields.
    if not 1 <= len(value) <= question.max_entries:
        noun = "entry" if question.max_entries == 1 else "entries"
        raise InvalidAnswer(f"enter 1 to {question.max_entries} {noun}")
    try:
        words = _collapse(value)
    except ValueError as exc:
        raise InvalidAnswer(str(exc)) from None
    return WordcloudAnswer(words=words)


def _quiz(question: QuizQuestion | QuizQuestionView, name: str, value: object) -> QuizAnswer:
    count = len(question.options)
    if name == "option":
        options = [_index(value, "option", count)]
    else:
        options = _indexes(value, "options", count)
        if len(set(options)) != len(options):
            raise InvalidAnswer("options must be distinct")
    high = count if question.multiple else 1
    if not 1 <= len(options) <= high:
        raise InvalidAnswer(_choose(1, high))
    return QuizAnswer(options=options)


def _fields_of(answer: Answer) -> dict[str, object]:
    """An answer model as the vote-frame fields it stands for."""
    return answer.model_dump(exclude={"kind"})


@overload
def validate_answer(
    question: SingleQuestion, answer: Mapping[str, object] | Answer
) -> SingleAnswer: ...
@overload
def validate_answer(
    question: MultipleQuestion, answer: Mapping[str, object] | Answer
) -> MultipleAnswer: ...
@overload
def validate_answer(
    question: RatingQuestion, answer: Mapping[str, object] | Answer
) -> RatingAnswer: ...
@overload
def validate_answer(
    question: RankingQuestion, answer: Mapping[str, object] | Answer
) -> RankingAnswer: ...
@overload
def validate_answer(
    question: WordcloudQuestion, answer: Mapping[str, object] | Answer
) -> WordcloudAnswer: ...
@overload
def validate_answer(
    question: QuizQuestion, answer: Mapping[str, object] | Answer
) -> QuizAnswer: ...
@overload
def validate_answer(
    question: Question | PublicQuestion, answer: Mapping[str, object] | Answer
) -> Answer: ...
def validate_answer(
    question: Question | PublicQuestion, answer: Mapping[str, object] | Answer
) -> Answer:
    """Check an answer against every limit of its question; return it normalised.

    `answer` is the answer field(s) of a `vote` frame (e.g. `{"options": [2, 0]}`, optionally
    with a matching `kind`) or an answer model (re-checked against this question). Raises
    `InvalidAnswer` naming the rule broken. `question` may be the public view a gateway holds
    (a quiz without its correct options): the limits of an answer are all public. Pure and
    total: any input either yields an answer or raises `InvalidAnswer`, never another error.
    """
    if isinstance(answer, _Answer):
        if answer.kind != question.kind:
            raise InvalidAnswer(f"this is a {KIND_NAMES[question.kind]} question")
        fields: Mapping[str, object] = _fields_of(answer)
    elif isinstance(answer, Mapping):
        fields = answer
    else:
        raise InvalidAnswer("an answer must be an object of answer fields")
    name, value = _field(question.kind, fields)
    if isinstance(question, SingleQuestion):
        return _single(question, value)
    if isinstance(question, MultipleQuestion):
        return _multiple(question, value)
    if isinstance(question, RatingQuestion):
        return _rating(question, value)
    if isinstance(question, RankingQuestion):
        return _ranking(question, value)
    if isinstance(question, WordcloudQuestion | WordcloudQuestionView):
        return _wordcloud(question, value)
    return _quiz(question, name, value)
