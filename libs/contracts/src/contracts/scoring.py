"""Quiz scoring and the leaderboard, from server clocks only (design.md "Questions", quiz).

A correct answer scores `round(P * (1 - (t / T) / 2))` (t from the question's opening to the
answer's acceptance, T the time limit), a wrong or missing one 0; consecutive correct answers add
a streak bonus `min(500, 100 * (streak - 1))`. The leaderboard ranks by score, then by the lower
total time of correct answers. Exact arithmetic throughout (fractions, half-up rounding), so a
score equals its recomputation in SQL.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from typing import TypedDict
from uuid import UUID

from contracts.answers import QuizAnswer
from contracts.questions import QuizQuestion

DEFAULT_LEADERBOARD_TOP = 10

Seconds = int | float | Decimal | Fraction | timedelta
MAX_STREAK_BONUS = 500
STREAK_STEP = 100


def seconds(value: Seconds) -> Fraction:
    """A duration as exact seconds: a timedelta to the microsecond, a float as the decimal it
    prints as (1.8 is 9/5, not the binary 1.80000000000000004: what a timestamp difference in
    SQL gives). ValueError on NaN, infinity or a boolean."""
    if isinstance(value, timedelta):
        return Fraction(value // timedelta(microseconds=1), 1_000_000)
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds, not a boolean")
    if isinstance(value, float | Decimal) and not math.isfinite(value):
        raise ValueError("a duration must be a finite number of seconds")
    return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)


def quiz_points(points: int, t: Seconds, time_limit: Seconds, *, correct: bool = True) -> int:
    """Speed points of one answer: round(P x (1 - (t / T) / 2)) if correct, else 0.

    t is the time from the question's opening to the answer's acceptance (server clocks),
    clamped to [0, T], so an instant answer earns P and the last moment P / 2. Rounding is half
    up, computed exactly (no float), as PostgreSQL's `round(numeric)` does: a recomputation in
    SQL agrees.
    """
    if not correct:
        return 0
    limit = seconds(time_limit)
    if limit <= 0:
        raise ValueError("the time limit must be positive")
    elapsed = min(max(seconds(t), Fraction(0)), limit)
    return math.floor(points * (1 - elapsed / limit / 2) + Fraction(1, 2))


def is_correct(question: QuizQuestion, answer: QuizAnswer) -> bool:
    """All and only the correct options: a subset or a superset of them scores nothing."""
    return set(answer.options) == set(question.correct)


def streak_bonus(streak: int) -> int:
    """+100 for each consecutive correct answer from the second, at most +500 (0 for streak 0)."""
    if streak < 0:
        raise ValueError("a streak is a count of answers")
    return min(MAX_STREAK_BONUS, STREAK_STEP * (streak - 1)) if streak else 0


@dataclass(frozen=True, slots=True)
class QuizResponse:
    """A participant's (locked) answer to a quiz question and when it was accepted."""

    answer: QuizAnswer
    elapsed: Seconds  # from the question's opening to the gateway's acceptance


@dataclass(frozen=True, slots=True)
class QuestionScore:
    """How one quiz question scored for one participant."""

    correct: bool
    points: int  # speed points
    bonus: int  # streak bonus
    streak: int  # consecutive correct answers, this one included
    elapsed: Fraction | None  # seconds; None when there was no answer

    @property
    def total(self) -> int:
        return self.points + self.bonus


@dataclass(frozen=True, slots=True)
class ScoreCard:
    """A participant's score over the quiz questions closed so far, in the order played.

    Immutable: `after` is the incremental step the worker takes when a question closes, and
    `score_quiz` the recomputation from the stored answers; both give the same card.
    """

    questions: tuple[QuestionScore, ...] = ()
    score: int = 0
    correct_time: Fraction = Fraction(0)  # seconds spent on correct answers: the tie-break
    streak: int = 0

    def after(self, question: QuizQuestion, response: QuizResponse | None) -> ScoreCard:
        """The card once `question` has closed; None when the participant did not answer."""
        if response is None:
            result = QuestionScore(correct=False, points=0, bonus=0, streak=0, elapsed=None)
            return ScoreCard((*self.questions, result), self.score, self.correct_time, 0)
        elapsed = min(max(seconds(response.elapsed), Fraction(0)), Fraction(question.time_limit_s))
        correct = is_correct(question, response.answer)
        streak = self.streak + 1 if correct else 0
        result = QuestionScore(
            correct=correct,
            points=quiz_points(question.points, elapsed, question.time_limit_s, correct=correct),
            bonus=streak_bonus(streak),
            streak=streak,
            elapsed=elapsed,
        )
        return ScoreCard(
            questions=(*self.questions, result),
            score=self.score + result.total,
            correct_time=self.correct_time + (elapsed if correct else 0),
            streak=streak,
        )


def score_quiz(
    questions: Sequence[QuizQuestion], responses: Sequence[QuizResponse | None]
) -> ScoreCard:
    """One participant's card, recomputed: `responses[i]` answers `questions[i]` (or None)."""
    if len(questions) != len(responses):
        raise ValueError("one response (or None) per quiz question")
    card = ScoreCard()
    for question, response in zip(questions, responses, strict=True):
        card = card.after(question, response)
    return card


@dataclass(frozen=True, slots=True)
class Standing:
    """A participant's place in the game: what the leaderboard is ordered by."""

    participant_id: UUID
    score: int
    correct_time: Fraction = Fraction(0)
    nickname: str = ""


@dataclass(frozen=True, slots=True)
class Ranked:
    rank: int
    standing: Standing


class LeaderboardRow(TypedDict):
    rank: int
    nickname: str
    score: int


def _order(standing: Standing) -> tuple[int, Fraction, UUID]:
    return (-standing.score, standing.correct_time, standing.participant_id)


def rank_standings(standings: Iterable[Standing]) -> list[Ranked]:
    """The leaderboard: higher score first, then less time on correct answers, then participant
    id (only for a deterministic order).

    Ranks are competition ranks over (score, time): equal score and equal time share a rank
    and the next rank skips (1, 2, 2, 4), as SQL's `RANK() OVER (ORDER BY score DESC, time)`.
    """
    ordered = sorted(standings, key=_order)
    ranked: list[Ranked] = []
    for position, standing in enumerate(ordered):
        previous = ranked[-1] if ranked else None
        tied = (
            previous is not None
            and previous.standing.score == standing.score
            and previous.standing.correct_time == standing.correct_time
        )
        rank = previous.rank if tied and previous is not None else position + 1
        ranked.append(Ranked(rank, standing))
    return ranked


def leaderboard_top(
    ranked: Sequence[Ranked], top: int = DEFAULT_LEADERBOARD_TOP
) -> list[LeaderboardRow]:
    """The first `top` rows of a ranked table, as the `leaderboard` frame's `top` carries them."""
    return [
        {"rank": r.rank, "nickname": r.standing.nickname, "score": r.standing.score}
        for r in ranked[:top]
    ]
