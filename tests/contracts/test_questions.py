"""contracts.questions: each kind's settings, every limit refused with its rule, the public view."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.questions import (
    MAX_QUESTIONS,
    PUBLIC_QUESTION_ADAPTER,
    QUESTION_ADAPTER,
    QUESTION_KINDS,
    QUESTION_LIST_ADAPTER,
    MultipleQuestion,
    Question,
    QuizQuestion,
    QuizQuestionView,
    RankingQuestion,
    RatingQuestion,
    SingleQuestion,
    WordcloudQuestion,
    WordcloudQuestionView,
    from_shorthand,
    parse_question,
    parse_stored_question,
    public_view,
)

EXAMPLES: dict[str, dict[str, Any]] = {
    "single": {"kind": "single", "prompt": "Tea or coffee?", "options": ["Tea", "Coffee"]},
    "multiple": {
        "kind": "multiple",
        "prompt": "Which languages do you use?",
        "options": ["Python", "Rust", "Go", "C"],
        "min_choices": 1,
        "max_choices": 3,
    },
    "rating": {
        "kind": "rating",
        "prompt": "How was the talk?",
        "min": 1,
        "max": 5,
        "min_label": "Poor",
        "max_label": "Great",
    },
    "ranking": {
        "kind": "ranking",
        "prompt": "Order these topics",
        "options": ["Testing", "Security", "Speed"],
        "rank_count": 2,
    },
    "wordcloud": {
        "kind": "wordcloud",
        "prompt": "One word for today",
        "max_entries": 3,
        "profanity_filter": True,
        "banned_words": ["boring"],
    },
    "quiz": {
        "kind": "quiz",
        "prompt": "2 + 2 = ?",
        "options": ["3", "4", "5"],
        "correct": [1],
        "time_limit_s": 20,
        "points": 1000,
    },
}


def _with(kind: str, **changes: Any) -> dict[str, Any]:
    data = dict(EXAMPLES[kind])
    for key, value in changes.items():
        if value is _DROP:
            data.pop(key, None)
        else:
            data[key] = value
    return data


_DROP = object()


def _refused(data: dict[str, Any], rule: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_question(data)
    assert re.search(rule, str(caught.value)), str(caught.value)


def test_every_kind_has_an_example() -> None:
    assert set(EXAMPLES) == set(QUESTION_KINDS)


@pytest.mark.parametrize("kind", QUESTION_KINDS)
def test_every_kind_round_trips_through_json(kind: str) -> None:
    question = parse_question(EXAMPLES[kind])
    assert question.kind == kind
    dumped = question.model_dump(mode="json")
    assert QUESTION_ADAPTER.validate_python(dumped) == question
    assert QUESTION_ADAPTER.validate_json(json.dumps(dumped)) == question
    assert type(question).model_validate_json(question.model_dump_json()) == question


def test_the_union_picks_the_model_of_the_kind() -> None:
    expected = {
        "single": SingleQuestion,
        "multiple": MultipleQuestion,
        "rating": RatingQuestion,
        "ranking": RankingQuestion,
        "wordcloud": WordcloudQuestion,
        "quiz": QuizQuestion,
    }
    for kind, model in expected.items():
        assert type(parse_question(EXAMPLES[kind])) is model


def test_defaults() -> None:
    multiple = MultipleQuestion(prompt="p", options=["a", "b", "c"])
    assert (multiple.min_choices, multiple.max_choices, multiple.choice_range) == (1, None, (1, 3))
    rating = RatingQuestion(prompt="p")
    assert (rating.min, rating.max, rating.size, rating.min_label) == (1, 5, 5, None)
    assert RatingQuestion(prompt="p", min=0, max=10).size == 11
    ranking = RankingQuestion(prompt="p", options=["a", "b", "c"])
    assert (ranking.rank_count, ranking.k) == (None, 3)
    cloud = WordcloudQuestion(prompt="p")
    assert (cloud.max_entries, cloud.profanity_filter, cloud.banned_words) == (3, True, [])
    quiz = QuizQuestion(prompt="p", options=["a", "b"], correct=[0], time_limit_s=30)
    assert (quiz.points, quiz.multiple) == (1000, False)
    assert SingleQuestion(prompt="p", options=["a", "b"]).time_limit_s is None


def test_text_is_trimmed_and_correct_indexes_sorted() -> None:
    question = parse_question(
        _with("quiz", prompt="  Sum?  ", options=[" 3 ", "4"], correct=[1, 0])
    )
    assert question.prompt == "Sum?"
    assert isinstance(question, QuizQuestion)
    assert question.options == ["3", "4"]
    assert question.correct == [0, 1]
    assert question.multiple


def test_shorthand_is_one_single_choice_question() -> None:
    question = from_shorthand("Tea or coffee?", ["Tea", "Coffee"])
    assert question == parse_question(EXAMPLES["single"])
    with pytest.raises(ValidationError, match="at least 2"):
        from_shorthand("Only one?", ["Yes"])


# ---- every limit, refused with its rule ---------------------------------------------------

COMMON_LIMITS = [
    pytest.param({"prompt": ""}, r"prompt\n.*at least 1 character", id="prompt-empty"),
    pytest.param({"prompt": "   "}, r"prompt\n.*at least 1 character", id="prompt-blank"),
    pytest.param({"prompt": "x" * 301}, r"prompt\n.*at most 300 characters", id="prompt-long"),
    pytest.param({"prompt": "<b>Vote</b>"}, r"prompt\n.*markup", id="prompt-markup"),
    pytest.param({"prompt": "a\u202eb"}, r"prompt\n.*control or invisible", id="prompt-rtl"),
    pytest.param({"prompt": 5}, r"prompt\n.*valid string", id="prompt-not-text"),
    pytest.param({"time_limit_s": 4}, r"time_limit_s\n.*greater than or equal to 5", id="t-4"),
    pytest.param({"time_limit_s": 601}, r"time_limit_s\n.*less than or equal to 600", id="t-601"),
    pytest.param({"time_limit_s": "30"}, r"time_limit_s\n.*valid integer", id="t-string"),
    pytest.param({"time_limit_s": 30.0}, r"time_limit_s\n.*valid integer", id="t-float"),
    pytest.param({"time_limit_s": True}, r"time_limit_s\n.*valid integer", id="t-bool"),
    pytest.param({"colour": "red"}, r"colour\n.*Extra inputs are not permitted", id="extra"),
]


@pytest.mark.parametrize("kind", QUESTION_KINDS)
@pytest.mark.parametrize(("change", "rule"), COMMON_LIMITS)
def test_common_limits(kind: str, change: dict[str, Any], rule: str) -> None:
    _refused(_with(kind, **change), rule)


@pytest.mark.parametrize("kind", [k for k in QUESTION_KINDS if k != "quiz"])
def test_time_limit_is_optional_for_other_kinds(kind: str) -> None:
    assert parse_question(_with(kind, time_limit_s=_DROP)).time_limit_s is None
    assert parse_question(_with(kind, time_limit_s=5)).time_limit_s == 5
    assert parse_question(_with(kind, time_limit_s=600)).time_limit_s == 600


OPTION_KINDS = ["single", "multiple", "ranking", "quiz"]
OPTION_LIMITS = [
    pytest.param({"options": ["only"]}, r"options\n.*at least 2 items", id="one"),
    pytest.param({"options": [f"o{i}" for i in range(21)]}, r"options\n.*at most 20", id="21"),
    pytest.param({"options": ["a", "x" * 121]}, r"options.1\n.*at most 120", id="long"),
    pytest.param({"options": ["a", "  "]}, r"options.1\n.*at least 1 character", id="blank"),
    pytest.param({"options": ["a", "<i>b</i>"]}, r"options.1\n.*markup", id="markup"),
    pytest.param({"options": ["a", "b\x00"]}, r"options.1\n.*control or invisible", id="nul"),
    pytest.param({"options": ["Tea", " tea"]}, r"options must be distinct", id="duplicate"),
    pytest.param({"options": ["a", 2]}, r"options.1\n.*valid string", id="not-text"),
    pytest.param({"options": "a,b"}, r"options\n.*valid list", id="not-a-list"),
]


@pytest.mark.parametrize("kind", OPTION_KINDS)
@pytest.mark.parametrize(("change", "rule"), OPTION_LIMITS)
def test_option_limits(kind: str, change: dict[str, Any], rule: str) -> None:
    data = _with(kind, **change)
    if kind == "ranking" and len(change.get("options", [])) == 21:
        rule = r"options\n.*at most 10"
    if kind in {"ranking", "multiple"}:
        data.pop("rank_count", None)
        data.pop("max_choices", None)
    if kind == "quiz":
        data["correct"] = [0]
    _refused(data, rule)


@pytest.mark.parametrize("kind", ["single", "multiple", "quiz"])
def test_twenty_options_are_allowed(kind: str) -> None:
    data = _with(kind, options=[f"o{i}" for i in range(20)])
    assert len(parse_question(data).options) == 20  # type: ignore[union-attr]


def test_ranking_allows_ten_options_not_eleven() -> None:
    data = _with("ranking", options=[f"o{i}" for i in range(10)], rank_count=_DROP)
    assert parse_question(data).k == 10  # type: ignore[union-attr]
    _refused(_with("ranking", options=[f"o{i}" for i in range(11)]), r"options\n.*at most 10")


KIND_LIMITS = [
    # multiple: 1 <= min_choices <= max_choices <= len(options)
    pytest.param("multiple", {"min_choices": 0}, r"min_choices\n.*greater than or equal to 1"),
    pytest.param("multiple", {"max_choices": 0}, r"max_choices\n.*greater than or equal to 1"),
    pytest.param("multiple", {"min_choices": 3, "max_choices": 2}, r"min_choices <= max_choices"),
    pytest.param("multiple", {"max_choices": 5}, r"max_choices <= number of options \(4\)"),
    pytest.param(
        "multiple",
        {"min_choices": 5, "max_choices": _DROP},
        r"min_choices <= max_choices <= number of options",
    ),
    pytest.param("multiple", {"min_choices": "1"}, r"min_choices\n.*valid integer"),
    # rating: min in {0, 1}, max <= 10, max > min, labels plain text
    pytest.param("rating", {"min": 2}, r"min must be 0 or 1"),
    pytest.param("rating", {"min": -1}, r"min must be 0 or 1"),
    pytest.param("rating", {"min": True}, r"min\n.*valid integer"),
    pytest.param("rating", {"max": 11}, r"max\n.*less than or equal to 10"),
    pytest.param("rating", {"max": 1}, r"max must be greater than min"),
    pytest.param("rating", {"min": 0, "max": 0}, r"max must be greater than min"),
    pytest.param("rating", {"max": 4.5}, r"max\n.*valid integer"),
    pytest.param("rating", {"min_label": "<b>bad</b>"}, r"min_label\n.*markup"),
    pytest.param("rating", {"max_label": "x" * 121}, r"max_label\n.*at most 120"),
    pytest.param("rating", {"options": ["a", "b"]}, r"options\n.*Extra inputs"),
    # ranking: 1 <= rank_count <= len(options)
    pytest.param("ranking", {"rank_count": 0}, r"rank_count\n.*greater than or equal to 1"),
    pytest.param("ranking", {"rank_count": 4}, r"rank_count must be between 1 and .* \(3\)"),
    pytest.param("ranking", {"rank_count": 11}, r"rank_count\n.*less than or equal to 10"),
    # wordcloud: max_entries 1-10, banned words like entries
    pytest.param("wordcloud", {"max_entries": 0}, r"max_entries\n.*greater than or equal to 1"),
    pytest.param("wordcloud", {"max_entries": 11}, r"max_entries\n.*less than or equal to 10"),
    pytest.param("wordcloud", {"profanity_filter": "no"}, r"profanity_filter\n.*valid boolean"),
    pytest.param("wordcloud", {"banned_words": ["x" * 26]}, r"at most 25 characters"),
    pytest.param("wordcloud", {"banned_words": ["one two three four"]}, r"at most 3 words"),
    pytest.param("wordcloud", {"banned_words": ["<b>"]}, r"markup"),
    pytest.param("wordcloud", {"banned_words": ["?!"]}, r"must contain a word"),
    pytest.param("wordcloud", {"banned_words": [f"w{i}" for i in range(201)]}, r"at most 200"),
    pytest.param("wordcloud", {"options": ["a", "b"]}, r"options\n.*Extra inputs"),
    # quiz: correct non-empty distinct valid indexes, time limit required, points 0/1000/2000
    pytest.param("quiz", {"correct": []}, r"correct\n.*at least 1 item"),
    pytest.param("quiz", {"correct": [1, 1]}, r"correct options must be distinct"),
    pytest.param("quiz", {"correct": [3]}, r"correct options must be indexes between 0 and 2"),
    pytest.param("quiz", {"correct": [-1]}, r"correct options must be indexes between 0 and 2"),
    pytest.param("quiz", {"correct": [True]}, r"correct.0\n.*valid integer"),
    pytest.param("quiz", {"correct": _DROP}, r"correct\n.*Field required"),
    pytest.param("quiz", {"time_limit_s": _DROP}, r"time_limit_s\n.*Field required"),
    pytest.param("quiz", {"time_limit_s": None}, r"time_limit_s\n.*valid integer"),
    pytest.param("quiz", {"points": 500}, r"points must be 0, 1000 or 2000"),
    pytest.param("quiz", {"points": 1000.0}, r"points\n.*valid integer"),
    pytest.param("quiz", {"points": False}, r"points\n.*valid integer"),
]


@pytest.mark.parametrize(("kind", "change", "rule"), KIND_LIMITS)
def test_kind_limits(kind: str, change: dict[str, Any], rule: str) -> None:
    _refused(_with(kind, **change), rule)


def test_limits_at_their_edges_are_accepted() -> None:
    assert parse_question(_with("multiple", min_choices=4, max_choices=4))
    assert parse_question(_with("rating", min=0, max=1))
    assert parse_question(_with("rating", min=1, max=10))
    assert parse_question(_with("ranking", rank_count=1))
    assert parse_question(_with("ranking", rank_count=3))
    assert parse_question(_with("wordcloud", max_entries=1, banned_words=["x" * 25]))
    assert parse_question(_with("wordcloud", max_entries=10, banned_words=["a b c"] * 200))
    for points in (0, 1000, 2000):
        assert parse_question(_with("quiz", points=points))
    assert parse_question(_with("quiz", correct=[0, 1, 2]))


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        ({"prompt": "p", "options": ["a", "b"]}, r"Unable to extract tag using discriminator"),
        ({"kind": "poll", "prompt": "p"}, r"does not match any of the expected tags"),
        ("not an object", r"valid dictionary"),
    ],
)
def test_kind_is_required_and_known(data: Any, rule: str) -> None:
    with pytest.raises(ValidationError, match=rule):
        parse_question(data)


def test_questions_are_frozen() -> None:
    question = parse_question(EXAMPLES["single"])
    with pytest.raises(ValidationError, match="frozen"):
        question.prompt = "changed"  # type: ignore[misc]


def test_a_run_holds_one_to_fifty_questions() -> None:
    one = [EXAMPLES["single"]]
    assert len(QUESTION_LIST_ADAPTER.validate_python(one * MAX_QUESTIONS)) == MAX_QUESTIONS
    with pytest.raises(ValidationError, match="at least 1 item"):
        QUESTION_LIST_ADAPTER.validate_python([])
    with pytest.raises(ValidationError, match="at most 50 items"):
        QUESTION_LIST_ADAPTER.validate_python(one * (MAX_QUESTIONS + 1))
    mixed = QUESTION_LIST_ADAPTER.validate_python(list(EXAMPLES.values()))
    assert [q.kind for q in mixed] == list(QUESTION_KINDS)


# ---- the public view (invariant 6) --------------------------------------------------------


def test_a_quiz_view_never_holds_the_correct_options() -> None:
    quiz = parse_question(EXAMPLES["quiz"])
    view = public_view(quiz)
    assert isinstance(view, QuizQuestionView)
    dumped = view.model_dump(mode="json")
    assert "correct" not in dumped
    assert dumped == {
        "kind": "quiz",
        "prompt": "2 + 2 = ?",
        "time_limit_s": 20,
        "options": ["3", "4", "5"],
        "points": 1000,
        "multiple": False,
    }
    schema = PUBLIC_QUESTION_ADAPTER.json_schema()["$defs"]["QuizQuestionView"]
    assert "correct" not in schema["properties"]
    # Nor can one be smuggled into a view.
    with pytest.raises(ValidationError, match=r"correct\n.*Extra inputs"):
        PUBLIC_QUESTION_ADAPTER.validate_python({**dumped, "correct": [1]})


def test_a_quiz_with_several_correct_options_says_so() -> None:
    view = public_view(parse_question(_with("quiz", correct=[0, 2])))
    assert isinstance(view, QuizQuestionView)
    assert view.multiple


def test_a_wordcloud_view_hides_the_banned_words() -> None:
    view = public_view(parse_question(EXAMPLES["wordcloud"]))
    assert isinstance(view, WordcloudQuestionView)
    assert view.model_dump(mode="json") == {
        "kind": "wordcloud",
        "prompt": "One word for today",
        "time_limit_s": None,
        "max_entries": 3,
        "profanity_filter": True,
    }


@pytest.mark.parametrize("kind", ["single", "multiple", "rating", "ranking"])
def test_other_kinds_are_shown_as_they_are(kind: str) -> None:
    question = parse_question(EXAMPLES[kind])
    assert public_view(question) is question


@pytest.mark.parametrize("kind", QUESTION_KINDS)
def test_every_view_round_trips_through_json(kind: str) -> None:
    view = public_view(parse_question(EXAMPLES[kind]))
    assert PUBLIC_QUESTION_ADAPTER.validate_json(view.model_dump_json()) == view


# ---- property: any valid question round-trips ---------------------------------------------

_label = st.text(alphabet="abcdefghij XYZ 0123456789-é", min_size=1, max_size=12).filter(
    lambda s: s.strip() != ""
)


def _options(low: int, high: int) -> st.SearchStrategy[list[str]]:
    return st.lists(_label, min_size=low, max_size=high, unique_by=lambda s: s.strip().casefold())


_time = st.none() | st.integers(5, 600)
_banned = _label.filter(lambda s: any(c.isalnum() for c in s) and len(s.split()) <= 3)


@st.composite
def questions(draw: st.DrawFn) -> Question:
    kind = draw(st.sampled_from(QUESTION_KINDS))
    prompt = draw(_label)
    if kind == "single":
        return SingleQuestion(
            prompt=prompt, options=draw(_options(2, 20)), time_limit_s=draw(_time)
        )
    if kind == "multiple":
        options = draw(_options(2, 20))
        low = draw(st.integers(1, len(options)))
        high = draw(st.none() | st.integers(low, len(options)))
        return MultipleQuestion(prompt=prompt, options=options, min_choices=low, max_choices=high)
    if kind == "rating":
        low = draw(st.sampled_from([0, 1]))
        return RatingQuestion(prompt=prompt, min=low, max=draw(st.integers(low + 1, 10)))
    if kind == "ranking":
        options = draw(_options(2, 10))
        k = draw(st.none() | st.integers(1, len(options)))
        return RankingQuestion(prompt=prompt, options=options, rank_count=k)
    if kind == "wordcloud":
        return WordcloudQuestion(
            prompt=prompt,
            max_entries=draw(st.integers(1, 10)),
            profanity_filter=draw(st.booleans()),
            banned_words=draw(st.lists(_banned, max_size=5)),
        )
    options = draw(_options(2, 20))
    correct = draw(st.lists(st.integers(0, len(options) - 1), min_size=1, unique=True))
    return QuizQuestion(
        prompt=prompt,
        options=options,
        correct=correct,
        time_limit_s=draw(st.integers(5, 600)),
        points=draw(st.sampled_from([0, 1000, 2000])),
    )


@settings(max_examples=300, deadline=None)
@given(questions())
def test_any_valid_question_round_trips(question: Question) -> None:
    assert QUESTION_ADAPTER.validate_json(question.model_dump_json()) == question
    assert QUESTION_ADAPTER.validate_python(question.model_dump(mode="json")) == question
    view = public_view(question)
    assert PUBLIC_QUESTION_ADAPTER.validate_python(view.model_dump(mode="json")) == view
    assert "correct" not in view.model_dump()
    assert "banned_words" not in view.model_dump()


def test_the_schemas_describe_every_kind() -> None:
    """poll-api's OpenAPI and the frame schema will embed these: they must generate."""
    for adapter in (QUESTION_ADAPTER, PUBLIC_QUESTION_ADAPTER):
        schema = adapter.json_schema()
        assert schema["discriminator"]["propertyName"] == "kind"
        assert set(schema["discriminator"]["mapping"]) == set(QUESTION_KINDS)


def test_a_stored_question_is_read_with_its_text_as_it_is_but_input_is_still_refused() -> None:
    stored = {"kind": "quiz", "prompt": "<b>x</b>?", "options": ["<i>a</i>", "b"], "correct": [0]}
    question = parse_stored_question({**stored, "time_limit_s": 20})
    assert question.prompt == "<b>x</b>?"
    assert public_view(question).prompt == "<b>x</b>?"
    with pytest.raises(ValidationError, match="HTML markup is not allowed"):
        parse_question({**stored, "time_limit_s": 20})
    with pytest.raises(ValidationError):  # the shape is still checked
        parse_stored_question({**stored, "options": ["only one"], "time_limit_s": 20})
