"""contracts.scoring: quiz points, streaks, score cards and the leaderboard order."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.answers import (
    QuizAnswer,
)
from contracts.questions import (
    MultipleQuestion,
    QuizQuestion,
    RankingQuestion,
    RatingQuestion,
    SingleQuestion,
    WordcloudQuestion,
)
from contracts.scoring import (
    QuizResponse,
    ScoreCard,
    Standing,
    is_correct,
    leaderboard_top,
    quiz_points,
    rank_standings,
    score_quiz,
    seconds,
    streak_bonus,
)

SINGLE = SingleQuestion(prompt="Tea or coffee?", options=["Tea", "Coffee", "Water"])
MULTIPLE = MultipleQuestion(prompt="Pick", options=["a", "b", "c", "d"], max_choices=3)
RATING = RatingQuestion(prompt="How was it?", min=1, max=5)
RATING_0 = RatingQuestion(prompt="0 to 10", min=0, max=10)
RANKING = RankingQuestion(prompt="Top 2", options=["a", "b", "c", "d"], rank_count=2)
RANKING_ALL = RankingQuestion(prompt="Order all", options=["a", "b", "c"])
CLOUD = WordcloudQuestion(prompt="Words", max_entries=3)
QUIZ = QuizQuestion(prompt="2 + 2", options=["3", "4", "5"], correct=[1], time_limit_s=20)
QUIZ_MANY = QuizQuestion(prompt="Primes", options=["2", "3", "4"], correct=[0, 1], time_limit_s=10)


# ---- quiz scoring -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("points", "t", "limit", "expected"),
    [
        (1000, 0, 20, 1000),
        (1000, 10, 20, 750),
        (1000, 20, 20, 500),
        (1000, 25, 20, 500),  # clamped to T
        (1000, -3, 20, 1000),  # clamped to 0
        (2000, 5, 20, 1750),
        (0, 3, 20, 0),
        (1000, 1.8, 600, 999),  # 998.5: half up (1.8 as a decimal, not its binary value)
        (1000, Fraction(3, 5), 600, 1000),  # 999.5: half up
        (1000, Decimal("7.25"), 20, 819),  # 818.75
        (1000, timedelta(seconds=7, microseconds=250_000), 20, 819),
        (1000, timedelta(milliseconds=1), timedelta(seconds=5), 1000),  # 999.9
    ],
)
def test_quiz_points(points: int, t: Any, limit: Any, expected: int) -> None:
    assert quiz_points(points, t, limit) == expected
    assert quiz_points(points, t, limit, correct=False) == 0


def test_quiz_points_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="positive"):
        quiz_points(1000, 1, 0)
    with pytest.raises(ValueError, match="finite"):
        quiz_points(1000, float("nan"), 20)
    with pytest.raises(ValueError, match="finite"):
        quiz_points(1000, 1, float("inf"))
    with pytest.raises(ValueError, match="finite"):
        quiz_points(1000, Decimal("NaN"), 20)
    with pytest.raises(ValueError, match="boolean"):
        seconds(True)


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from([0, 1000, 2000]),
    st.integers(0, 600_000),
    st.integers(0, 600_000),
    st.integers(5, 600),
)
def test_quiz_points_follow_the_formula(points: int, ms_a: int, ms_b: int, limit: int) -> None:
    t_a, t_b = sorted([timedelta(milliseconds=ms_a), timedelta(milliseconds=ms_b)])
    earlier, later = quiz_points(points, t_a, limit), quiz_points(points, t_b, limit)
    assert points // 2 <= later <= earlier <= points  # faster never scores less
    # The same formula as SQL would write it: round(P * (1 - (t / T) / 2)) on numerics.
    t = min(Decimal(ms_a) / 1000, Decimal(limit))
    exact = Decimal(points) * (1 - t / Decimal(limit) / 2)
    assert quiz_points(points, timedelta(milliseconds=ms_a), limit) == int(
        exact.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    )


def test_correct_means_all_and_only_the_correct_options() -> None:
    assert is_correct(QUIZ, QuizAnswer(options=[1]))
    assert not is_correct(QUIZ, QuizAnswer(options=[0]))
    assert is_correct(QUIZ_MANY, QuizAnswer(options=[0, 1]))
    assert not is_correct(QUIZ_MANY, QuizAnswer(options=[0]))  # a subset
    assert not is_correct(QUIZ_MANY, QuizAnswer(options=[0, 1, 2]))  # a superset


@pytest.mark.parametrize(
    ("streak", "bonus"), [(0, 0), (1, 0), (2, 100), (3, 200), (6, 500), (7, 500), (40, 500)]
)
def test_streak_bonus(streak: int, bonus: int) -> None:
    assert streak_bonus(streak) == bonus


def test_streak_bonus_refuses_a_negative_streak() -> None:
    with pytest.raises(ValueError, match="count"):
        streak_bonus(-1)


def _right(elapsed: Any, question: QuizQuestion = QUIZ) -> QuizResponse:
    return QuizResponse(QuizAnswer(options=question.correct), elapsed)


def _wrong(elapsed: Any) -> QuizResponse:
    return QuizResponse(QuizAnswer(options=[0]), elapsed)


def test_a_score_card_adds_speed_points_and_streak_bonuses() -> None:
    questions = [QUIZ] * 6
    responses = [_right(0), _right(10), _right(20), _wrong(1), None, _right(4)]
    card = score_quiz(questions, responses)
    assert [(q.correct, q.points, q.bonus, q.streak) for q in card.questions] == [
        (True, 1000, 0, 1),
        (True, 750, 100, 2),
        (True, 500, 200, 3),
        (False, 0, 0, 0),  # a wrong answer resets the streak
        (False, 0, 0, 0),  # and so does no answer
        (True, 900, 0, 1),
    ]
    assert card.score == 1000 + 850 + 700 + 900
    assert card.correct_time == Fraction(0 + 10 + 20 + 4)  # wrong answers' time is not counted
    assert card.streak == 1
    assert card.questions[4].elapsed is None
    assert card.questions[1].total == 850


def test_the_streak_bonus_stops_at_500() -> None:
    card = score_quiz([QUIZ] * 8, [_right(0)] * 8)
    assert [q.bonus for q in card.questions] == [0, 100, 200, 300, 400, 500, 500, 500]
    assert card.score == 8 * 1000 + 2500


def test_a_late_answer_time_is_clamped_to_the_limit() -> None:
    card = score_quiz([QUIZ], [_right(timedelta(seconds=25))])
    assert card.questions[0].points == 500
    assert card.correct_time == 20


def test_score_quiz_needs_one_response_per_question() -> None:
    with pytest.raises(ValueError, match="one response"):
        score_quiz([QUIZ, QUIZ], [None])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([QUIZ, QUIZ_MANY]),
            st.none() | st.tuples(st.booleans(), st.integers(0, 25_000)),
        ),
        max_size=12,
    )
)
def test_a_card_built_step_by_step_equals_its_recomputation(
    plays: list[tuple[QuizQuestion, tuple[bool, int] | None]],
) -> None:
    questions = [q for q, _ in plays]
    responses: list[QuizResponse | None] = []
    for question, play in plays:
        if play is None:
            responses.append(None)
        else:
            right, ms = play
            elapsed = timedelta(milliseconds=ms)
            responses.append(_right(elapsed, question) if right else _wrong(elapsed))
    step = ScoreCard()
    for question, response in zip(questions, responses, strict=True):
        step = step.after(question, response)
    again = score_quiz(questions, responses)
    assert step == again
    assert again.score == sum(q.total for q in again.questions)
    streak = 0
    for result in again.questions:
        streak = streak + 1 if result.correct else 0
        assert result.streak == streak
        assert result.bonus == (min(500, 100 * (streak - 1)) if streak else 0)


# ---- the leaderboard ----------------------------------------------------------------------


def _id(n: int) -> uuid.UUID:
    return uuid.UUID(int=n)


def test_the_leaderboard_orders_by_score_then_time_then_id() -> None:
    standings = [
        Standing(_id(5), 900, Fraction(12), "eve"),
        Standing(_id(1), 1500, Fraction(30), "ann"),
        Standing(_id(3), 1500, Fraction(20), "bob"),  # same score, less time: ahead of ann
        Standing(_id(4), 900, Fraction(12), "dan"),  # tied with eve: same rank, id orders
        Standing(_id(2), 100, Fraction(1), "cat"),
    ]
    ranked = rank_standings(standings)
    assert [(r.rank, r.standing.nickname) for r in ranked] == [
        (1, "bob"),
        (2, "ann"),
        (3, "dan"),
        (3, "eve"),
        (5, "cat"),
    ]
    assert leaderboard_top(ranked, top=3) == [
        {"rank": 1, "nickname": "bob", "score": 1500},
        {"rank": 2, "nickname": "ann", "score": 1500},
        {"rank": 3, "nickname": "dan", "score": 900},
    ]
    assert len(leaderboard_top(ranked)) == 5
    assert rank_standings([]) == []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 3)), max_size=30))
def test_ranks_are_sql_rank_over_score_and_time(rows: list[tuple[int, int]]) -> None:
    standings = [Standing(_id(i), s * 500, Fraction(t)) for i, (s, t) in enumerate(rows)]
    ranked = rank_standings(reversed(standings))
    order = [
        (-r.standing.score, r.standing.correct_time, r.standing.participant_id) for r in ranked
    ]
    assert order == sorted(order)
    by_id = sorted(standings, key=lambda s: s.participant_id)
    assert sorted((r.standing for r in ranked), key=lambda s: s.participant_id) == by_id
    for r in ranked:
        better = sum(
            1
            for s in standings
            if (-s.score, s.correct_time) < (-r.standing.score, r.standing.correct_time)
        )
        assert r.rank == better + 1  # RANK() OVER (ORDER BY score DESC, correct_time)
