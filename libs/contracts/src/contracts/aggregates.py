"""Aggregates of every kind, kept incrementally and equal to a recomputation, and quiz scoring.

An aggregate is a set of non-negative integer *counters*. Each answer contributes a fixed amount
to some of them (`contribution`), so keeping an aggregate is adding and subtracting
contributions: a participant's new answer replaces the old one by removing the old one's
contribution and adding the new one's. Because addition commutes, any sequence of adds, replaces
and removes ends in the same counters as `recompute` over the answers that remain (invariant 3),
and the worker can store the counters as rows and apply the same deltas in SQL.

| kind | counters (key: amount) | tally |
|---|---|---|
| `single`, `quiz` | `("counts", i)`, `("total",)` | `counts`, `total` |
| `multiple` | `("counts", i)` per chosen option, `("total",)` | `counts`, `total` |
| `rating` | `("counts", value - min)`, `("total",)`, `("sum",)`: value | `counts`, `total`, |
| | | `sum`, `mean` |
| `ranking` | `("points", i)`: k - position, `("total",)` | `points`, `total`, `average` |
| `wordcloud` | `("word", key)`, `("spelling", key, spelling)`, | `words`, `distinct`, |
| | `("total",)` | `total` |

`total` is always respondents (for `multiple`, the base of each option's percentage).

Means and averages are exact fractions (`Fraction`); the tally writes them as decimal strings
rounded half up to `DECIMALS` places, never as a float that drifts, and a tally is a function of
the counters alone, so equal counters give equal tallies.

Quiz scores are per participant, not counters: `quiz_points`, `streak_bonus`, `ScoreCard` and
`rank_standings` compute them from the stored answers and their acceptance times.
"""

from __future__ import annotations

import heapq
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Generic, Self, TypedDict, TypeVar, overload

from contracts.answers import (
    Answer,
    MultipleAnswer,
    QuizAnswer,
    RankingAnswer,
    RatingAnswer,
    SingleAnswer,
    WordcloudAnswer,
)
from contracts.moderation import NO_MODERATION, WithheldReason, WordModeration
from contracts.questions import (
    MultipleQuestion,
    Question,
    QuestionKind,
    QuizQuestion,
    RankingQuestion,
    RatingQuestion,
    SingleQuestion,
    WordcloudQuestion,
)
from contracts.words import normalise_word, parse_entry

DECIMALS = 2
DEFAULT_TOP_WORDS = 100
DEFAULT_WITHHELD_WORDS = 200

CounterKey = tuple[str | int, ...]
TOTAL: CounterKey = ("total",)
SUM: CounterKey = ("sum",)


def decimal_string(value: Fraction, places: int = DECIMALS) -> str:
    """`value` (non-negative) as a decimal string, rounded half up: 11/3 -> "3.67"."""
    if value < 0:
        raise ValueError("only non-negative values are written")
    scale = 10**places
    # Integer arithmetic: floor(value * scale + 1/2), exact whatever the denominator.
    scaled = math.floor(value * scale + Fraction(1, 2))
    whole, part = divmod(scaled, scale)
    return f"{whole}.{part:0{places}d}" if places else str(whole)


# ---- tallies: what screens get --------------------------------------------------------------


class CountsTally(TypedDict):
    kind: QuestionKind
    counts: list[int]
    total: int


class RatingTally(TypedDict):
    kind: QuestionKind
    counts: list[int]
    total: int
    sum: int
    mean: str | None


class RankingTally(TypedDict):
    kind: QuestionKind
    points: list[int]
    total: int
    average: list[str | None]


class WordCount(TypedDict):
    word: str
    count: int


class WithheldWord(TypedDict):
    """A word no screen shows (for the host): its label, key, count and why."""

    word: str
    key: str
    count: int
    reason: WithheldReason


class WordcloudTally(TypedDict):
    kind: QuestionKind
    words: list[WordCount]
    distinct: int
    total: int


Tally = CountsTally | RatingTally | RankingTally | WordcloudTally


# ---- aggregates ---------------------------------------------------------------------------

Q = TypeVar("Q", bound=Question)
A = TypeVar("A", bound=Answer)


class Aggregate(ABC, Generic[Q, A]):
    """The aggregate of one question: counters moved by answers' contributions.

    `add`, `remove` and `replace` take normalised answers (from `validate_answer`) of this
    question's kind; an answer that does not fit the question raises ValueError and changes
    nothing, and so does removing an answer that is not counted.
    """

    _answer_type: type[A]

    def __init__(self, question: Q) -> None:
        self.question = question
        self._counters: dict[CounterKey, int] = {}

    # -- building ---------------------------------------------------------------------------

    @classmethod
    def recompute(cls, question: Q, answers: Iterable[Answer]) -> Self:
        """The aggregate of exactly these answers (one per participant)."""
        aggregate = cls(question)
        for answer in answers:
            aggregate.add(answer)
        return aggregate

    @classmethod
    def from_counters(cls, question: Q, counters: Mapping[CounterKey, int]) -> Self:
        """Restore an aggregate from stored counters (as `counters()` gave them)."""
        aggregate = cls(question)
        for key, value in counters.items():
            if not isinstance(key, tuple) or not key or not aggregate._is_counter(key):
                raise ValueError(f"{key!r} is not a counter of a {question.kind} aggregate")
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"counter {key!r} must be a non-negative integer")
            if value:
                aggregate._bump(key, value)
        return aggregate

    # -- changing ---------------------------------------------------------------------------

    def contribution(self, answer: Answer) -> dict[CounterKey, int]:
        """What `answer` adds to the counters (ValueError if it does not fit the question)."""
        if not isinstance(answer, self._answer_type):
            raise ValueError(f"a {answer.kind} answer does not fit a {self.question.kind} question")
        found: dict[CounterKey, int] = {}
        for key, amount in self._contribution(answer):
            if amount:
                found[key] = found.get(key, 0) + amount
        return found

    def add(self, answer: Answer) -> None:
        for key, amount in self.contribution(answer).items():
            self._bump(key, amount)

    def remove(self, answer: Answer) -> None:
        delta = self.contribution(answer)
        # All or nothing: check every counter before touching any.
        if any(self._counters.get(key, 0) < amount for key, amount in delta.items()):
            raise ValueError("this answer is not counted in the aggregate")
        for key, amount in delta.items():
            self._bump(key, -amount)

    def replace(self, old: Answer | None, new: Answer | None) -> None:
        """A participant's answer changes from `old` to `new` (None: they had none / have none)."""
        if new is not None:
            self.contribution(new)  # refuse a misfit before removing anything
        if old is not None:
            self.remove(old)
        if new is not None:
            self.add(new)

    def _bump(self, key: CounterKey, amount: int) -> None:
        value = self._counters.get(key, 0) + amount
        if value:
            self._counters[key] = value
        else:
            # Zero counters are dropped, so equal aggregates have equal counters.
            del self._counters[key]

    # -- reading ----------------------------------------------------------------------------

    def counters(self) -> dict[CounterKey, int]:
        """A copy of the non-zero counters (for storage; `from_counters` restores them)."""
        return dict(self._counters)

    def counter(self, *key: str | int) -> int:
        return self._counters.get(key, 0)

    @property
    def total(self) -> int:
        """Respondents: the answers counted."""
        return self.counter(*TOTAL)

    def _vector(self, name: str, size: int) -> list[int]:
        return [self.counter(name, i) for i in range(size)]

    @abstractmethod
    def _contribution(self, answer: A) -> Iterable[tuple[CounterKey, int]]: ...

    @abstractmethod
    def _shape(self) -> dict[str, int | None]:
        """The counters: name -> vector length, or None for a scalar."""

    def _is_counter(self, key: CounterKey) -> bool:
        shape = self._shape()
        if len(key) == 1:
            return isinstance(key[0], str) and key[0] in shape and shape[key[0]] is None
        if len(key) == 2 and isinstance(key[0], str) and type(key[1]) is int:
            size = shape.get(key[0])
            return size is not None and 0 <= key[1] < size
        return False

    @abstractmethod
    def tally(self) -> Tally:
        """The JSON-ready aggregate for `tally` frames and results (without question/version)."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Aggregate):
            return NotImplemented
        return (
            type(self) is type(other)
            and self.question == other.question
            and self._counters == other._counters
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.tally()!r})"


def _check_index(index: int, size: int) -> None:
    if not 0 <= index < size:
        raise ValueError(f"option {index} does not exist (0 to {size - 1})")


class SingleAggregate(Aggregate[SingleQuestion, SingleAnswer]):
    _answer_type = SingleAnswer

    def _contribution(self, answer: SingleAnswer) -> Iterable[tuple[CounterKey, int]]:
        _check_index(answer.option, len(self.question.options))
        return [(("counts", answer.option), 1), (TOTAL, 1)]

    def _shape(self) -> dict[str, int | None]:
        return {"counts": len(self.question.options), "total": None}

    @property
    def counts(self) -> list[int]:
        return self._vector("counts", len(self.question.options))

    def tally(self) -> CountsTally:
        return {"kind": "single", "counts": self.counts, "total": self.total}


# Multiple choice and quiz count the same way: one per option chosen, one respondent.
ChoiceQ = TypeVar("ChoiceQ", MultipleQuestion, QuizQuestion)
ChoiceA = TypeVar("ChoiceA", MultipleAnswer, QuizAnswer)


class _ChoicesAggregate(Aggregate[ChoiceQ, ChoiceA]):
    def _contribution(self, answer: ChoiceA) -> Iterable[tuple[CounterKey, int]]:
        for option in answer.options:
            _check_index(option, len(self.question.options))
        return [*((("counts", option), 1) for option in answer.options), (TOTAL, 1)]

    def _shape(self) -> dict[str, int | None]:
        return {"counts": len(self.question.options), "total": None}

    @property
    def counts(self) -> list[int]:
        return self._vector("counts", len(self.question.options))

    def tally(self) -> CountsTally:
        return {"kind": self.question.kind, "counts": self.counts, "total": self.total}


class MultipleAggregate(_ChoicesAggregate[MultipleQuestion, MultipleAnswer]):
    """Counts per option; `total` is respondents, the base of each option's percentage."""

    _answer_type = MultipleAnswer


class RatingAggregate(Aggregate[RatingQuestion, RatingAnswer]):
    """A histogram (index = value - min), the count and the sum: the mean is sum / total."""

    _answer_type = RatingAnswer

    def _contribution(self, answer: RatingAnswer) -> Iterable[tuple[CounterKey, int]]:
        low, high = self.question.min, self.question.max
        if not low <= answer.value <= high:
            raise ValueError(f"value {answer.value} is outside {low} to {high}")
        return [(("counts", answer.value - low), 1), (TOTAL, 1), (SUM, answer.value)]

    def _shape(self) -> dict[str, int | None]:
        return {"counts": self.question.size, "total": None, "sum": None}

    @property
    def counts(self) -> list[int]:
        return self._vector("counts", self.question.size)

    @property
    def sum(self) -> int:
        return self.counter(*SUM)

    @property
    def mean(self) -> Fraction | None:
        """Exact: sum / total; None before the first answer."""
        return Fraction(self.sum, self.total) if self.total else None

    def tally(self) -> RatingTally:
        mean = self.mean
        return {
            "kind": "rating",
            "counts": self.counts,
            "total": self.total,
            "sum": self.sum,
            "mean": None if mean is None else decimal_string(mean),
        }


class RankingAggregate(Aggregate[RankingQuestion, RankingAnswer]):
    """Borda points: the option at position p (from 0) of a ranking of k earns k - p."""

    _answer_type = RankingAnswer

    def _contribution(self, answer: RankingAnswer) -> Iterable[tuple[CounterKey, int]]:
        k = self.question.k
        if len(answer.ranking) != k:
            raise ValueError(f"a ranking of this question ranks {k} options")
        for option in answer.ranking:
            _check_index(option, len(self.question.options))
        points = [
            (("points", option), k - position) for position, option in enumerate(answer.ranking)
        ]
        return [*points, (TOTAL, 1)]

    def _shape(self) -> dict[str, int | None]:
        return {"points": len(self.question.options), "total": None}

    @property
    def points(self) -> list[int]:
        return self._vector("points", len(self.question.options))

    @property
    def average(self) -> list[Fraction | None]:
        """Exact points per respondent of each option; None before the first answer."""
        total = self.total
        return [Fraction(p, total) if total else None for p in self.points]

    def tally(self) -> RankingTally:
        return {
            "kind": "ranking",
            "points": self.points,
            "total": self.total,
            "average": [None if a is None else decimal_string(a) for a in self.average],
        }


class WordcloudAggregate(Aggregate[WordcloudQuestion, WordcloudAnswer]):
    """Respondents per normalised word, and how often each spelling was used (for the label).

    An answer holds each normalised word once (`WordcloudAnswer` collapses duplicates), so a
    participant counts once per word whatever they typed.
    """

    _answer_type = WordcloudAnswer

    def __init__(self, question: WordcloudQuestion) -> None:
        super().__init__(question)
        # Indexes over the counters, so a tally never scans every spelling.
        self._words: dict[str, int] = {}
        self._spellings: dict[str, dict[str, int]] = {}

    def _contribution(self, answer: WordcloudAnswer) -> Iterable[tuple[CounterKey, int]]:
        found: list[tuple[CounterKey, int]] = [(TOTAL, 1)]
        seen: set[str] = set()
        for word in answer.words:
            entry = parse_entry(word)
            if entry.key in seen:
                continue  # a validated answer has none; a participant counts once per word
            seen.add(entry.key)
            found.append((("word", entry.key), 1))
            found.append((("spelling", entry.key, entry.spelling), 1))
        return found

    def _shape(self) -> dict[str, int | None]:
        return {"total": None}

    def _is_counter(self, key: CounterKey) -> bool:
        if len(key) >= 2 and key[0] in {"word", "spelling"}:
            if not all(isinstance(part, str) for part in key[1:]):
                return False
            # Stored keys must be what parsing gives, or counts would split.
            # (A key can be longer than its spelling: case folding turns "ß" into "ss".)
            if key[0] == "word":
                return len(key) == 2 and key[1] != "" and normalise_word(str(key[1])) == key[1]
            if len(key) != 3:
                return False
            try:
                return parse_entry(str(key[2])) == (key[2], key[1])
            except ValueError:
                return False
        return super()._is_counter(key)

    def _bump(self, key: CounterKey, amount: int) -> None:
        if key[0] == "word":
            _bump_index(self._words, str(key[1]), amount)
        elif key[0] == "spelling":
            spellings = self._spellings.setdefault(str(key[1]), {})
            _bump_index(spellings, str(key[2]), amount)
            if not spellings:
                del self._spellings[str(key[1])]
        super()._bump(key, amount)

    @property
    def distinct(self) -> int:
        return len(self._words)

    def count(self, word: str) -> int:
        """Respondents who entered `word` (any spelling of it)."""
        return self._words.get(normalise_word(word), 0)

    def label(self, key: str) -> str:
        """The most frequent spelling of a normalised word (ties: the first in code point order)."""
        spellings = self._spellings[key]
        return min(spellings, key=lambda spelling: (-spellings[spelling], spelling))

    def top(
        self, n: int = DEFAULT_TOP_WORDS, moderation: WordModeration = NO_MODERATION
    ) -> list[WordCount]:
        """The n most entered words that `moderation` lets through: count descending, then
        normalised word."""
        shown = (key for key in self._words if not moderation.withholds(key))
        keys = heapq.nsmallest(n, shown, key=lambda key: (-self._words[key], key))
        return [{"word": self.label(key), "count": self._words[key]} for key in keys]

    def withheld(
        self, moderation: WordModeration, n: int = DEFAULT_WITHHELD_WORDS
    ) -> list[WithheldWord]:
        """The n most entered words that `moderation` withholds, with the reason (the host's
        list: never sent to a participant)."""
        held = ((key, moderation.reason(key)) for key in self._words)
        found = heapq.nsmallest(
            n,
            ((key, reason) for key, reason in held if reason is not None),
            key=lambda item: (-self._words[item[0]], item[0]),
        )
        return [
            {"word": self.label(key), "key": key, "count": self._words[key], "reason": reason}
            for key, reason in found
        ]

    def tally(
        self, top: int = DEFAULT_TOP_WORDS, moderation: WordModeration = NO_MODERATION
    ) -> WordcloudTally:
        """What every screen gets. Withheld words are left out of `words` and `distinct`;
        `total` stays the respondents (a participant whose only word is withheld answered)."""
        return {
            "kind": "wordcloud",
            "words": self.top(top, moderation),
            "distinct": sum(1 for key in self._words if not moderation.withholds(key)),
            "total": self.total,
        }


def _bump_index(index: dict[str, int], key: str, amount: int) -> None:
    value = index.get(key, 0) + amount
    if value:
        index[key] = value
    else:
        del index[key]


class QuizAggregate(_ChoicesAggregate[QuizQuestion, QuizAnswer]):
    """Counts per option chosen and respondents (shown after close); scores are per participant."""

    _answer_type = QuizAnswer


AnyAggregate = (
    SingleAggregate
    | MultipleAggregate
    | RatingAggregate
    | RankingAggregate
    | WordcloudAggregate
    | QuizAggregate
)


@overload
def aggregate_for(question: SingleQuestion) -> SingleAggregate: ...
@overload
def aggregate_for(question: MultipleQuestion) -> MultipleAggregate: ...
@overload
def aggregate_for(question: RatingQuestion) -> RatingAggregate: ...
@overload
def aggregate_for(question: RankingQuestion) -> RankingAggregate: ...
@overload
def aggregate_for(question: WordcloudQuestion) -> WordcloudAggregate: ...
@overload
def aggregate_for(question: QuizQuestion) -> QuizAggregate: ...
@overload
def aggregate_for(question: Question) -> AnyAggregate: ...
def aggregate_for(question: Question) -> AnyAggregate:
    """An empty aggregate of the question's kind."""
    if isinstance(question, SingleQuestion):
        return SingleAggregate(question)
    if isinstance(question, MultipleQuestion):
        return MultipleAggregate(question)
    if isinstance(question, RatingQuestion):
        return RatingAggregate(question)
    if isinstance(question, RankingQuestion):
        return RankingAggregate(question)
    if isinstance(question, WordcloudQuestion):
        return WordcloudAggregate(question)
    return QuizAggregate(question)


@overload
def recompute(question: SingleQuestion, answers: Iterable[Answer]) -> SingleAggregate: ...
@overload
def recompute(question: MultipleQuestion, answers: Iterable[Answer]) -> MultipleAggregate: ...
@overload
def recompute(question: RatingQuestion, answers: Iterable[Answer]) -> RatingAggregate: ...
@overload
def recompute(question: RankingQuestion, answers: Iterable[Answer]) -> RankingAggregate: ...
@overload
def recompute(question: WordcloudQuestion, answers: Iterable[Answer]) -> WordcloudAggregate: ...
@overload
def recompute(question: QuizQuestion, answers: Iterable[Answer]) -> QuizAggregate: ...
@overload
def recompute(question: Question, answers: Iterable[Answer]) -> AnyAggregate: ...
def recompute(question: Question, answers: Iterable[Answer]) -> AnyAggregate:
    """The aggregate of exactly these answers, whatever the kind (the reconciler's view)."""
    aggregate = aggregate_for(question)
    for answer in answers:
        aggregate.add(answer)
    return aggregate


# ---- storage --------------------------------------------------------------------------------


def encode_counters(counters: Mapping[CounterKey, int]) -> dict[str, int]:
    """Counters as a JSON object: each key a compact JSON array, `("counts", 2)` -> `["counts",2]`.

    The form the worker stores in `tallies.counters` (and migration 0003 wrote for version 1).
    """
    return {json.dumps(list(key), separators=(",", ":")): value for key, value in counters.items()}


def decode_counters(stored: Mapping[str, int]) -> dict[CounterKey, int]:
    """The inverse of `encode_counters` (ValueError for a key that is not a JSON array)."""
    decoded: dict[CounterKey, int] = {}
    for raw, value in stored.items():
        key = json.loads(raw)
        if not isinstance(key, list) or not key:
            raise ValueError(f"{raw!r} is not a counter key")
        decoded[tuple(key)] = value
    return decoded
