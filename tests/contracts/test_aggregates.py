"""contracts.aggregates: each kind's aggregate, incremental = recomputed, and quiz scoring."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.aggregates import (
    MultipleAggregate,
    QuizAggregate,
    RankingAggregate,
    RatingAggregate,
    SingleAggregate,
    WordcloudAggregate,
    aggregate_for,
    decimal_string,
    recompute,
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


def test_counters_survive_their_stored_json_form() -> None:
    from contracts.aggregates import decode_counters, encode_counters

    counters = {("counts", 2): 3, ("total",): 5, ("spelling", "a:b", "A:b"): 1}
    stored = encode_counters(counters)
    assert stored == {'["counts",2]': 3, '["total"]': 5, '["spelling","a:b","A:b"]': 1}
    assert decode_counters(stored) == counters
    agg = aggregate_for(RANKING)
    agg.add(validate_answer(RANKING, {"ranking": list(range(RANKING.k))}))
    assert decode_counters(encode_counters(agg.counters())) == agg.counters()
    with pytest.raises(ValueError, match="not a counter key"):
        decode_counters({'"total"': 1})
