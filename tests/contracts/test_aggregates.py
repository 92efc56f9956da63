"""contracts.aggregates: each kind's aggregate, incremental = recomputed, and quiz scoring."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.aggregates import (
    MultipleAggregate,
    QuizAggregate,
    QuizResponse,
    RankingAggregate,
    RatingAggregate,
    ScoreCard,
    SingleAggregate,
    Standing,
    WordcloudAggregate,
    aggregate_for,
    decimal_string,
    is_correct,
    leaderboard_top,
    quiz_points,
    rank_standings,
    recompute,
    score_quiz,
    seconds,
    streak_bonus,
)
from contracts.answers import (
    Answer,
    MultipleAnswer,
    QuizAnswer,
    RankingAnswer,
    RatingAnswer,
    SingleAnswer,
    WordcloudAnswer,
    validate_answer,
)
from contracts.questions import (
    MultipleQuestion,
    Question,
    QuizQuestion,
    RankingQuestion,
    RatingQuestion,
    SingleQuestion,
    WordcloudQuestion,
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


def _answers(question: Question, *fields: dict[str, Any]) -> list[Answer]:
    return [validate_answer(question, f) for f in fields]


# ---- each kind's tally --------------------------------------------------------------------


def test_single_counts_and_total() -> None:
    agg = recompute(SINGLE, _answers(SINGLE, {"option": 0}, {"option": 2}, {"option": 2}))
    assert isinstance(agg, SingleAggregate)
    assert agg.tally() == {"kind": "single", "counts": [1, 0, 2], "total": 3}
    assert aggregate_for(SINGLE).tally() == {"kind": "single", "counts": [0, 0, 0], "total": 0}


def test_multiple_counts_per_option_and_total_is_respondents() -> None:
    agg = recompute(MULTIPLE, _answers(MULTIPLE, {"options": [0, 1, 2]}, {"options": [1]}))
    assert isinstance(agg, MultipleAggregate)
    assert agg.tally() == {"kind": "multiple", "counts": [1, 2, 1, 0], "total": 2}


def test_rating_histogram_sum_and_exact_mean() -> None:
    agg = recompute(RATING, _answers(RATING, {"value": 1}, {"value": 2}, {"value": 2}))
    assert isinstance(agg, RatingAggregate)
    assert agg.mean == Fraction(5, 3)
    assert agg.tally() == {
        "kind": "rating",
        "counts": [1, 2, 0, 0, 0],  # index = value - min
        "total": 3,
        "sum": 5,
        "mean": "1.67",
    }
    empty = aggregate_for(RATING)
    assert empty.mean is None
    assert empty.tally()["mean"] is None


def test_a_rating_from_zero_counts_zero_in_the_histogram() -> None:
    agg = recompute(RATING_0, _answers(RATING_0, {"value": 0}, {"value": 0}, {"value": 10}))
    assert agg.tally() == {
        "kind": "rating",
        "counts": [2, *[0] * 9, 1],
        "total": 3,
        "sum": 10,
        "mean": "3.33",
    }


def test_the_mean_is_exact_whatever_the_order() -> None:
    """Many answers whose float running average would drift: the fraction does not."""
    values = [1, 2, 3, 4, 5] * 2001 + [1]
    agg = recompute(RATING, [RatingAnswer(value=v) for v in values])
    assert agg.mean == Fraction(sum(values), len(values))
    reversed_agg = recompute(RATING, [RatingAnswer(value=v) for v in reversed(values)])
    assert reversed_agg.tally() == agg.tally()


def test_ranking_borda_points_total_and_average() -> None:
    # k = 2: first place 2 points, second 1.
    agg = recompute(RANKING, _answers(RANKING, {"ranking": [3, 1]}, {"ranking": [1, 0]}))
    assert isinstance(agg, RankingAggregate)
    assert agg.tally() == {
        "kind": "ranking",
        "points": [1, 3, 0, 2],
        "total": 2,
        "average": ["0.50", "1.50", "0.00", "1.00"],
    }
    assert agg.average[1] == Fraction(3, 2)
    assert aggregate_for(RANKING).tally()["average"] == [None] * 4


def test_ranking_all_options_by_default() -> None:
    agg = recompute(RANKING_ALL, _answers(RANKING_ALL, {"ranking": [2, 0, 1]}))
    assert agg.tally()["points"] == [2, 1, 3]


def test_wordcloud_counts_each_participant_once_per_word() -> None:
    agg = recompute(
        CLOUD,
        _answers(
            CLOUD,
            {"words": ["Cat", "cat!", "dog"]},  # "cat!" is the same word: counted once
            {"words": ["CAT", "bird"]},
            {"words": ["cat", "Dog"]},
        ),
    )
    assert isinstance(agg, WordcloudAggregate)
    assert agg.tally() == {
        "kind": "wordcloud",
        "words": [
            # count desc, then normalised word; the label is the most frequent spelling
            # (Cat, CAT and cat once each: the first in code point order wins the tie).
            {"word": "CAT", "count": 3},
            {"word": "Dog", "count": 2},
            {"word": "bird", "count": 1},
        ],
        "distinct": 3,
        "total": 3,
    }
    assert agg.count("CAT!") == 3
    assert agg.count("fish") == 0


def test_the_label_is_the_most_frequent_spelling() -> None:
    agg = recompute(
        CLOUD,
        [WordcloudAnswer(words=[w]) for w in ["Python", "python", "python", "PYTHON"]],
    )
    assert agg.tally()["words"] == [{"word": "python", "count": 4}]


def test_wordcloud_top_n() -> None:
    answers = [WordcloudAnswer(words=[f"w{i:03d}" for i in range(j, j + 3)]) for j in range(150)]
    agg = recompute(CLOUD, answers)
    tally = agg.tally()
    assert len(tally["words"]) == 100
    assert tally["distinct"] == 152
    assert tally["total"] == 150
    counts = [w["count"] for w in tally["words"]]
    assert counts == sorted(counts, reverse=True)
    assert tally["words"][0] == {"word": "w002", "count": 3}
    assert len(agg.tally(top=5)["words"]) == 5
    assert agg.top(1) == [{"word": "w002", "count": 3}]


def test_quiz_counts_and_total() -> None:
    agg = recompute(QUIZ_MANY, _answers(QUIZ_MANY, {"option": 0}, {"options": [0, 1]}))
    assert isinstance(agg, QuizAggregate)
    assert agg.tally() == {"kind": "quiz", "counts": [2, 1, 0], "total": 2}


def test_replace_removes_the_old_contribution_and_adds_the_new() -> None:
    agg = aggregate_for(RATING)
    agg.replace(None, RatingAnswer(value=2))
    agg.replace(RatingAnswer(value=2), RatingAnswer(value=5))
    assert agg.tally() == {"kind": "rating", "counts": [0, 0, 0, 0, 1], "total": 1, "sum": 5,
                           "mean": "5.00"}  # fmt: skip
    agg.replace(RatingAnswer(value=5), None)
    assert agg == aggregate_for(RATING)


@pytest.mark.parametrize(
    ("question", "answer", "message"),
    [
        (SINGLE, SingleAnswer(option=3), "option 3 does not exist"),
        (SINGLE, MultipleAnswer(options=[0]), "a multiple answer does not fit a single question"),
        (MULTIPLE, MultipleAnswer(options=[0, 4]), "option 4 does not exist"),
        (RATING, RatingAnswer(value=0), "value 0 is outside 1 to 5"),
        (RANKING, RankingAnswer(ranking=[0, 1, 2]), "ranks 2 options"),
        (RANKING, RankingAnswer(ranking=[0, 7]), "option 7 does not exist"),
        (QUIZ, QuizAnswer(options=[5]), "option 5 does not exist"),
        (CLOUD, SingleAnswer(option=0), "a single answer does not fit a wordcloud question"),
    ],
)
def test_an_answer_that_does_not_fit_changes_nothing(
    question: Question, answer: Answer, message: str
) -> None:
    agg = aggregate_for(question)
    before = agg.counters()
    with pytest.raises(ValueError, match=message):
        agg.add(answer)
    with pytest.raises(ValueError, match=message):
        agg.replace(None, answer)
    assert agg.counters() == before


def test_removing_an_answer_not_counted_changes_nothing() -> None:
    agg = recompute(MULTIPLE, [MultipleAnswer(options=[0, 1])])
    before = agg.counters()
    with pytest.raises(ValueError, match="not counted"):
        agg.remove(MultipleAnswer(options=[0, 2]))  # option 0 could go, option 2 cannot
    with pytest.raises(ValueError, match="not counted"):
        agg.replace(MultipleAnswer(options=[3]), MultipleAnswer(options=[1]))
    assert agg.counters() == before
    cloud = recompute(CLOUD, [WordcloudAnswer(words=["cat"])])
    with pytest.raises(ValueError, match="not counted"):
        cloud.remove(WordcloudAnswer(words=["Cat"]))  # same word, another spelling
    cloud.remove(WordcloudAnswer(words=["cat"]))
    assert cloud == aggregate_for(CLOUD)


def test_counters_round_trip_and_bad_counters_are_refused() -> None:
    agg = recompute(CLOUD, _answers(CLOUD, {"words": ["Cat", "dog"]}, {"words": ["cat"]}))
    restored = WordcloudAggregate.from_counters(CLOUD, agg.counters())
    assert restored == agg
    assert restored.tally() == agg.tally()
    # A key may be longer than an entry may be: "ß" folds to "ss".
    long = recompute(CLOUD, [WordcloudAnswer(words=["ß" * 25])])
    assert long.tally()["words"] == [{"word": "ß" * 25, "count": 1}]
    assert WordcloudAggregate.from_counters(CLOUD, long.counters()) == long
    with pytest.raises(ValueError, match="not a counter"):
        WordcloudAggregate.from_counters(CLOUD, {("spelling", "cat", "dog"): 1})
    with pytest.raises(ValueError, match="not a counter"):
        WordcloudAggregate.from_counters(CLOUD, {("spelling", "x", "x" * 30): 1})
    with pytest.raises(ValueError, match="not a counter"):
        SingleAggregate.from_counters(SINGLE, {("counts", 3): 1})
    with pytest.raises(ValueError, match="not a counter"):
        SingleAggregate.from_counters(SINGLE, {("counts", "0"): 1})
    with pytest.raises(ValueError, match="not a counter"):
        SingleAggregate.from_counters(SINGLE, {(): 1})
    with pytest.raises(ValueError, match="not a counter"):
        SingleAggregate.from_counters(SINGLE, {("sum",): 1})
    with pytest.raises(ValueError, match="not a counter"):
        WordcloudAggregate.from_counters(CLOUD, {("word", "Cat"): 1})  # not a normalised key
    with pytest.raises(ValueError, match="non-negative integer"):
        SingleAggregate.from_counters(SINGLE, {("total",): -1})
    with pytest.raises(ValueError, match="non-negative integer"):
        SingleAggregate.from_counters(SINGLE, {("total",): 1.5})  # type: ignore[dict-item]


def test_contribution_is_the_delta_a_store_applies() -> None:
    agg = aggregate_for(RANKING)
    assert agg.contribution(RankingAnswer(ranking=[3, 1])) == {
        ("points", 3): 2,
        ("points", 1): 1,
        ("total",): 1,
    }
    assert aggregate_for(RATING_0).contribution(RatingAnswer(value=0)) == {
        ("counts", 0): 1,
        ("total",): 1,
    }


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Fraction(0), "0.00"),
        (Fraction(11, 3), "3.67"),
        (Fraction(17, 8), "2.13"),  # 2.125: half up, not half even
        (Fraction(21, 8), "2.63"),  # 2.625
        (Fraction(1, 200), "0.01"),  # 0.005
        (Fraction(1, 201), "0.00"),
        (Fraction(10), "10.00"),
    ],
)
def test_decimal_strings_round_half_up(value: Fraction, text: str) -> None:
    assert decimal_string(value) == text
    expected = Decimal(value.numerator) / Decimal(value.denominator)
    assert text == str(expected.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


# ---- property: any sequence of adds, replaces and removes equals the recomputation --------


def _valid_answer(question: Question) -> st.SearchStrategy[Answer]:
    if isinstance(question, SingleQuestion):
        return st.builds(SingleAnswer, option=st.integers(0, len(question.options) - 1))
    if isinstance(question, MultipleQuestion):
        low, high = question.choice_range
        indexes = st.lists(
            st.integers(0, len(question.options) - 1), min_size=low, max_size=high, unique=True
        )
        return st.builds(MultipleAnswer, options=indexes)
    if isinstance(question, RatingQuestion):
        return st.builds(RatingAnswer, value=st.integers(question.min, question.max))
    if isinstance(question, RankingQuestion):
        order = st.permutations(range(len(question.options)))
        return order.map(lambda o: RankingAnswer(ranking=list(o[: question.k])))
    if isinstance(question, WordcloudQuestion):
        # A small vocabulary in several spellings, so that words repeat and labels compete.
        spelling = st.sampled_from(["cat", "Cat", "CAT!", "dog", "Dog", "big dog", "🎉", "été"])
        entries = st.lists(spelling, min_size=1, max_size=question.max_entries)
        return entries.map(lambda words: validate_answer(question, {"words": words}))
    indexes = st.lists(
        st.integers(0, len(question.options) - 1),
        min_size=1,
        max_size=len(question.options) if question.multiple else 1,
        unique=True,
    )
    return st.builds(QuizAnswer, options=indexes)


PROPERTY_QUESTIONS: list[Question] = [
    SINGLE,
    MULTIPLE,
    RATING,
    RATING_0,
    RANKING,
    RANKING_ALL,
    CLOUD,
    QUIZ,
    QUIZ_MANY,
]


@st.composite
def histories(draw: st.DrawFn) -> tuple[Question, list[tuple[int, Answer | None]]]:
    """A question and a run of (participant, new answer or None for a withdrawal)."""
    question = draw(st.sampled_from(PROPERTY_QUESTIONS))
    step = st.tuples(st.integers(0, 7), st.none() | _valid_answer(question))
    return question, draw(st.lists(step, max_size=60))


@settings(max_examples=400, deadline=None)
@given(histories())
def test_incremental_equals_recompute(
    history: tuple[Question, list[tuple[int, Answer | None]]],
) -> None:
    question, steps = history
    agg = aggregate_for(question)
    latest: dict[int, Answer] = {}
    for participant, answer in steps:
        old = latest.get(participant)
        if answer is None:
            if old is None:
                continue
            agg.remove(old)
            del latest[participant]
        else:
            agg.replace(old, answer)  # a new answer replaces the old one (latest wins)
            latest[participant] = answer
    again = recompute(question, latest.values())
    assert agg == again
    assert agg.counters() == again.counters()
    assert agg.tally() == again.tally()
    assert agg.total == len(latest)
    # What a store keeps restores the same aggregate; the tally is JSON as it is.
    assert type(agg).from_counters(question, agg.counters()) == agg  # type: ignore[arg-type]
    assert json.loads(json.dumps(agg.tally())) == agg.tally()


@settings(max_examples=200, deadline=None)
@given(histories())
def test_tallies_agree_with_their_definitions(
    history: tuple[Question, list[tuple[int, Answer | None]]],
) -> None:
    question, steps = history
    answers = list({p: a for p, a in steps if a is not None}.values())
    tally: dict[str, Any] = dict(recompute(question, answers).tally())
    assert tally["total"] == len(answers)
    if isinstance(question, RatingQuestion):
        values = [a.value for a in answers if isinstance(a, RatingAnswer)]
        assert tally["sum"] == sum(values)
        assert tally["counts"] == [values.count(v) for v in range(question.min, question.max + 1)]
        if values:
            assert tally["mean"] == decimal_string(Fraction(sum(values), len(values)))
    if isinstance(question, RankingQuestion):
        k = question.k
        for option in range(len(question.options)):
            expected = sum(
                k - a.ranking.index(option)
                for a in answers
                if isinstance(a, RankingAnswer) and option in a.ranking
            )
            assert tally["points"][option] == expected
    if isinstance(question, WordcloudQuestion):
        keyed = [set(a.keys) for a in answers if isinstance(a, WordcloudAnswer)]
        every = set().union(*keyed)
        assert tally["distinct"] == len(every)
        counts = [w["count"] for w in tally["words"]]
        assert counts == sorted(counts, reverse=True)
        assert sum(counts) == sum(len(k) for k in keyed)  # fewer than 100 words here


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
