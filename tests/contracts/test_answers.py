"""contracts.answers and contracts.words: every answer limit checked on the server, normalised."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.answers import (
    ANSWER_ADAPTER,
    ANSWER_FIELDS,
    Answer,
    InvalidAnswer,
    MultipleAnswer,
    QuizAnswer,
    RankingAnswer,
    RatingAnswer,
    SingleAnswer,
    WordcloudAnswer,
    validate_answer,
)
from contracts.questions import (
    QUESTION_KINDS,
    MultipleQuestion,
    Question,
    QuizQuestion,
    RankingQuestion,
    RatingQuestion,
    SingleQuestion,
    WordcloudQuestion,
)
from contracts.words import (
    BannedWords,
    check_entry_text,
    display_form,
    normalise_word,
    parse_entry,
)

SINGLE = SingleQuestion(prompt="Tea or coffee?", options=["Tea", "Coffee", "Water"])
MULTIPLE = MultipleQuestion(
    prompt="Pick two or three", options=["a", "b", "c", "d", "e"], min_choices=2, max_choices=3
)
RATING = RatingQuestion(prompt="How was it?", min=1, max=5)
RATING_0 = RatingQuestion(prompt="0 to 10", min=0, max=10)
RANKING = RankingQuestion(prompt="Top 3", options=["a", "b", "c", "d", "e"], rank_count=3)
RANKING_ALL = RankingQuestion(prompt="Order all", options=["a", "b", "c"])
CLOUD = WordcloudQuestion(prompt="Three words", max_entries=3)
QUIZ = QuizQuestion(prompt="2 + 2", options=["3", "4", "5", "6"], correct=[1], time_limit_s=20)
QUIZ_MANY = QuizQuestion(
    prompt="Primes?", options=["2", "3", "4", "6"], correct=[0, 1], time_limit_s=20
)
QUESTIONS: dict[str, Question] = {
    "single": SINGLE,
    "multiple": MULTIPLE,
    "rating": RATING,
    "ranking": RANKING,
    "wordcloud": CLOUD,
    "quiz": QUIZ,
}
VALID: dict[str, dict[str, Any]] = {
    "single": {"option": 1},
    "multiple": {"options": [3, 0]},
    "rating": {"value": 4},
    "ranking": {"ranking": [4, 0, 2]},
    "wordcloud": {"words": ["Hello", "world"]},
    "quiz": {"option": 1},
}


def _refused(question: Question, answer: Any, rule: str) -> None:
    with pytest.raises(InvalidAnswer) as caught:
        validate_answer(question, answer)
    assert caught.value.rule == rule
    assert str(caught.value) == rule


# ---- accepted and normalised --------------------------------------------------------------


def test_valid_answers_come_back_normalised() -> None:
    assert validate_answer(SINGLE, {"option": 2}) == SingleAnswer(option=2)
    assert validate_answer(MULTIPLE, {"options": [4, 0, 2]}) == MultipleAnswer(options=[0, 2, 4])
    assert validate_answer(RATING, {"value": 5}) == RatingAnswer(value=5)
    assert validate_answer(RATING_0, {"value": 0}) == RatingAnswer(value=0)
    assert validate_answer(RANKING, {"ranking": [4, 0, 2]}).ranking == [4, 0, 2]  # order kept
    assert validate_answer(RANKING_ALL, {"ranking": [2, 1, 0]}).ranking == [2, 1, 0]
    assert validate_answer(QUIZ, {"option": 1}) == QuizAnswer(options=[1])
    assert validate_answer(QUIZ, {"options": [3]}) == QuizAnswer(options=[3])
    assert validate_answer(QUIZ_MANY, {"options": [1, 0]}) == QuizAnswer(options=[0, 1])
    assert validate_answer(QUIZ_MANY, {"option": 2}) == QuizAnswer(options=[2])


def test_word_entries_are_spelled_normalised_and_duplicates_collapse() -> None:
    five = WordcloudQuestion(prompt="Five words", max_entries=5)
    answer = validate_answer(five, {"words": ["  Cat!! ", "cat", "ＣＡＴ", "big   dog"]})
    # "cat" and fullwidth "CAT" are the same normalised word as "Cat": the first spelling is kept.
    assert answer.words == ["Cat", "big dog"]
    assert answer.keys == ["cat", "big dog"]


def test_a_matching_kind_field_is_accepted() -> None:
    assert validate_answer(SINGLE, {"kind": "single", "option": 0}) == SingleAnswer(option=0)


@pytest.mark.parametrize("kind", QUESTION_KINDS)
def test_validation_is_idempotent_and_accepts_its_own_models(kind: str) -> None:
    question = QUESTIONS[kind]
    answer = validate_answer(question, VALID[kind])
    assert answer.kind == kind
    assert validate_answer(question, answer) == answer
    assert validate_answer(question, answer.model_dump(mode="json")) == answer


@pytest.mark.parametrize("kind", QUESTION_KINDS)
def test_answers_round_trip_through_json(kind: str) -> None:
    answer = validate_answer(QUESTIONS[kind], VALID[kind])
    assert ANSWER_ADAPTER.validate_json(answer.model_dump_json()) == answer
    assert ANSWER_ADAPTER.validate_python(answer.model_dump(mode="json")) == answer
    assert type(answer).model_validate_json(answer.model_dump_json()) == answer


def test_every_kind_names_its_answer_fields() -> None:
    assert set(ANSWER_FIELDS) == set(QUESTION_KINDS)
    assert ANSWER_FIELDS["quiz"] == ("option", "options")


# ---- every limit, refused with its rule ---------------------------------------------------

REFUSALS = [
    # single
    (SINGLE, {"option": -1}, "option must be between 0 and 2"),
    (SINGLE, {"option": 3}, "option must be between 0 and 2"),
    (SINGLE, {"option": "1"}, "option must be an integer"),
    (SINGLE, {"option": 1.0}, "option must be an integer"),
    (SINGLE, {"option": True}, "option must be an integer"),
    (SINGLE, {"option": None}, "option must be an integer"),
    (SINGLE, {"option": [1]}, "option must be an integer"),
    (SINGLE, {}, "a single-choice question is answered with 'option' only"),
    (SINGLE, {"options": [1]}, "a single-choice question is answered with 'option' only"),
    (SINGLE, {"option": 1, "value": 2}, "a single-choice question is answered with 'option' only"),
    # multiple: distinct indexes in range, min_choices <= n <= max_choices
    (MULTIPLE, {"options": [0, 0]}, "options must be distinct"),
    (MULTIPLE, {"options": [0, 1, 1, 2]}, "options must be distinct"),
    (MULTIPLE, {"options": [0]}, "choose 2 to 3 options"),
    (MULTIPLE, {"options": []}, "choose 2 to 3 options"),
    (MULTIPLE, {"options": [0, 1, 2, 3]}, "choose 2 to 3 options"),
    (MULTIPLE, {"options": [0, 5]}, "each option must be between 0 and 4"),
    (MULTIPLE, {"options": [-1, 0]}, "each option must be between 0 and 4"),
    (MULTIPLE, {"options": [0, "1"]}, "options must be a list of integers"),
    (MULTIPLE, {"options": [0, False]}, "options must be a list of integers"),
    (MULTIPLE, {"options": 1}, "options must be a list of integers"),
    (MULTIPLE, {"option": 1}, "a multiple-choice question is answered with 'options' only"),
    # rating: value in [min, max]
    (RATING, {"value": 0}, "value must be between 1 and 5"),
    (RATING, {"value": 6}, "value must be between 1 and 5"),
    (RATING_0, {"value": -1}, "value must be between 0 and 10"),
    (RATING_0, {"value": 11}, "value must be between 0 and 10"),
    (RATING, {"value": 3.5}, "value must be an integer"),
    (RATING, {"value": "3"}, "value must be an integer"),
    (RATING, {"value": True}, "value must be an integer"),
    (RATING, {"option": 3}, "a rating question is answered with 'value' only"),
    # ranking: exactly k distinct indexes in range
    (RANKING, {"ranking": [0, 1]}, "rank exactly 3 distinct options"),
    (RANKING, {"ranking": [0, 1, 2, 3]}, "rank exactly 3 distinct options"),
    (RANKING, {"ranking": [0, 1, 1]}, "rank exactly 3 distinct options"),
    (RANKING, {"ranking": []}, "rank exactly 3 distinct options"),
    (RANKING, {"ranking": [0, 1, 5]}, "each ranked option must be between 0 and 4"),
    (RANKING, {"ranking": [0, 1, "2"]}, "ranking must be a list of integers"),
    (RANKING, {"ranking": "012"}, "ranking must be a list of integers"),
    (RANKING_ALL, {"ranking": [0, 1]}, "rank exactly 3 distinct options"),
    (RANKING, {"options": [0, 1, 2]}, "a ranking question is answered with 'ranking' only"),
    # wordcloud: 1..max_entries entries, each <= 25 characters and <= 3 words, plain text
    (CLOUD, {"words": []}, "enter 1 to 3 entries"),
    (CLOUD, {"words": ["a", "b", "c", "d"]}, "enter 1 to 3 entries"),
    (CLOUD, {"words": "cat"}, "words must be a list of texts"),
    (CLOUD, {"words": ["cat", 3]}, "words must be a list of texts"),
    (CLOUD, {"words": ["x" * 26]}, "each entry must be at most 25 characters"),
    (CLOUD, {"words": ["x" * 10_000]}, "each entry must be at most 25 characters"),
    (CLOUD, {"words": ["one two three four"]}, "each entry must be at most 3 words"),
    (CLOUD, {"words": ["!!!"]}, "each entry must contain a word (not only spaces or punctuation)"),
    (CLOUD, {"words": ["   "]}, "each entry must contain a word (not only spaces or punctuation)"),
    (
        CLOUD,
        {"words": ["<script>x</script>"]},
        "HTML markup is not allowed: use plain text (a '<' must not start a tag)",
    ),
    (
        CLOUD,
        {"words": ["\uff1cb\uff1e"]},  # fullwidth < >: markup once NFKC-normalised
        "HTML markup is not allowed: use plain text (a '<' must not start a tag)",
    ),
    (CLOUD, {"words": ["zero\u200bwidth"]}, "text contains control or invisible characters"),
    (CLOUD, {"words": ["evil\u202eatad"]}, "text contains control or invisible characters"),
    (CLOUD, {"words": ["rtl\u200fmark"]}, "text contains control or invisible characters"),
    (CLOUD, {"words": ["soft\u00adhyphen"]}, "text contains control or invisible characters"),
    (CLOUD, {"words": ["bell\x07"]}, "text contains control or invisible characters"),
    (CLOUD, {"words": ["two\nlines"]}, "text contains control or invisible characters"),
    (CLOUD, {"words": ["a\u200db"]}, "text contains control or invisible characters"),
    (CLOUD, {"words": ["\ue000"]}, "text contains control or invisible characters"),
    (CLOUD, {"word": ["cat"]}, "a word-cloud question is answered with 'words' only"),
    # quiz
    (QUIZ, {"options": [0, 1]}, "choose exactly 1 option"),
    (QUIZ, {"options": []}, "choose exactly 1 option"),
    (QUIZ, {"option": 4}, "option must be between 0 and 3"),
    (QUIZ, {"options": [4]}, "each option must be between 0 and 3"),
    (QUIZ, {"option": True}, "option must be an integer"),
    (QUIZ_MANY, {"options": [0, 0]}, "options must be distinct"),
    (QUIZ_MANY, {"options": []}, "choose 1 to 4 options"),
    (
        QUIZ,
        {"option": 1, "options": [1]},
        "a quiz question is answered with 'option' or 'options' only",
    ),
    (QUIZ, {"value": 1}, "a quiz question is answered with 'option' or 'options' only"),
    # the kind, when given, must be the question's
    (SINGLE, {"kind": "multiple", "option": 1}, "this is a single-choice question"),
    (SINGLE, MultipleAnswer(options=[0, 1]), "this is a single-choice question"),
    (QUIZ, SingleAnswer(option=1), "this is a quiz question"),
    # not an object at all
    (SINGLE, [1], "an answer must be an object of answer fields"),
    (SINGLE, 1, "an answer must be an object of answer fields"),
    (SINGLE, None, "an answer must be an object of answer fields"),
]


@pytest.mark.parametrize(("question", "answer", "rule"), REFUSALS)
def test_every_limit_is_refused_with_its_rule(question: Question, answer: Any, rule: str) -> None:
    _refused(question, answer, rule)


def test_exactly_n_choices_is_worded_so() -> None:
    question = MultipleQuestion(prompt="two", options=["a", "b", "c"], min_choices=2, max_choices=2)
    _refused(question, {"options": [0]}, "choose exactly 2 options")
    one = WordcloudQuestion(prompt="one", max_entries=1)
    _refused(one, {"words": ["a", "b"]}, "enter 1 to 1 entry")


def test_an_answer_model_is_rechecked_against_its_question() -> None:
    """A model built elsewhere (another question, a stored ballot) gets the question's limits."""
    _refused(SINGLE, SingleAnswer(option=5), "option must be between 0 and 2")
    _refused(MULTIPLE, MultipleAnswer(options=[0]), "choose 2 to 3 options")
    _refused(RATING, RatingAnswer(value=9), "value must be between 1 and 5")
    _refused(RANKING, RankingAnswer(ranking=[0, 1]), "rank exactly 3 distinct options")
    _refused(QUIZ, QuizAnswer(options=[0, 1]), "choose exactly 1 option")
    many = WordcloudAnswer(words=["a", "b", "c", "d"])
    _refused(CLOUD, many, "enter 1 to 3 entries")


def test_multiple_and_quiz_max_default_to_every_option() -> None:
    question = MultipleQuestion(prompt="any", options=["a", "b", "c"])
    assert validate_answer(question, {"options": [0, 1, 2]}).options == [0, 1, 2]
    _refused(question, {"options": []}, "choose 1 to 3 options")


def test_a_huge_word_is_refused_quickly() -> None:
    started = time.perf_counter()
    _refused(CLOUD, {"words": ["x" * 10_000_000]}, "each entry must be at most 25 characters")
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (SingleAnswer, {"option": -1}),
        (SingleAnswer, {"option": 20}),
        (SingleAnswer, {"option": "1"}),
        (SingleAnswer, {"option": 1, "extra": 1}),
        (MultipleAnswer, {"options": [1, 1]}),
        (MultipleAnswer, {"options": []}),
        (RatingAnswer, {"value": 11}),
        (RatingAnswer, {"value": True}),
        (RankingAnswer, {"ranking": [1, 1]}),
        (RankingAnswer, {"ranking": list(range(11))}),
        (WordcloudAnswer, {"words": []}),
        (WordcloudAnswer, {"words": ["<b>"]}),
        (WordcloudAnswer, {"words": ["w"] * 11}),
        (QuizAnswer, {"options": [2, 2]}),
        (QuizAnswer, {"option": 1}),
    ],
)
def test_answer_models_refuse_what_no_question_accepts(model: type[Answer], data: Any) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(data)


def test_answer_models_normalise_too() -> None:
    assert MultipleAnswer(options=[3, 1]).options == [1, 3]
    assert WordcloudAnswer(words=["Cat", " cat! "]).words == ["Cat"]
    with pytest.raises(ValidationError, match="Unable to extract tag"):
        ANSWER_ADAPTER.validate_python({"option": 1})


# ---- property: validation is total and stable ---------------------------------------------

_json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-5, 25)
    | st.floats(allow_nan=True)
    | st.text(max_size=30)
)
_json = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
_field_names = st.sampled_from(["option", "options", "value", "ranking", "words", "kind", "x"])


@settings(max_examples=600, deadline=None)
@given(
    st.sampled_from([*QUESTIONS.values(), RATING_0, RANKING_ALL, QUIZ_MANY]),
    st.dictionaries(_field_names, _json | st.lists(st.integers(-2, 6), max_size=6), max_size=2),
)
def test_validation_is_total_and_its_result_is_a_fixed_point(
    question: Question, fields: dict[str, Any]
) -> None:
    """Any input yields an answer or an InvalidAnswer (never another error), and an accepted
    answer validates again to itself, also after a JSON round trip."""
    try:
        answer = validate_answer(question, fields)
    except InvalidAnswer:
        return
    assert answer.kind == question.kind
    assert validate_answer(question, answer) == answer
    assert validate_answer(question, ANSWER_ADAPTER.validate_json(answer.model_dump_json())) == (
        answer
    )


@settings(max_examples=600, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=4))
def test_word_answers_are_total_and_stable(words: list[str]) -> None:
    try:
        answer = validate_answer(CLOUD, {"words": words})
    except InvalidAnswer:
        return
    assert 1 <= len(answer.words) <= len(words)
    assert len(set(answer.keys)) == len(answer.keys)
    for spelling, key in zip(answer.words, answer.keys, strict=True):
        assert parse_entry(spelling) == (spelling, key)
        assert len(spelling) <= 25
        assert len(spelling.split(" ")) <= 3
    assert validate_answer(CLOUD, {"words": answer.words}) == answer


# ---- contracts.words -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "spelling", "key"),
    [
        ("  Hello   World  ", "Hello World", "hello world"),
        ("Hello\tWorld", "Hello World", "hello world"),
        ("\u00a0Tea\u3000time", "Tea time", "tea time"),  # NFKC: no-break and ideographic space
        ("ＣＡＴ", "CAT", "cat"),  # NFKC: fullwidth letters
        ("Straße", "Straße", "strasse"),  # case folding, not lowering
        ("(hello)", "hello", "hello"),
        ("¡Hola!", "Hola", "hola"),
        ("«quoted»", "quoted", "quoted"),
        ("don't!", "don't", "don't"),
        ("rock'n'roll", "rock'n'roll", "rock'n'roll"),
        ("#tag", "tag", "tag"),
        ("$5", "$5", "$5"),
        ("+1", "+1", "+1"),
        ("C++", "C++", "c++"),
        ("a - b", "a b", "a b"),
        ("🎉", "🎉", "🎉"),
        ("party 🎉!", "party 🎉", "party 🎉"),
        ("❤️", "❤️", "❤"),  # the key drops the emoji variation selector
        ("👨\u200d👩\u200d👧", "👨\u200d👩\u200d👧", "👨\u200d👩\u200d👧"),
        ("👩🏽\u200d💻", "👩🏽\u200d💻", "👩🏽\u200d💻"),
        ("🏳️\u200d🌈", "🏳️\u200d🌈", "🏳\u200d🌈"),
    ],
)
def test_normalisation(raw: str, spelling: str, key: str) -> None:
    assert parse_entry(raw) == (spelling, key)
    assert display_form(raw) == spelling
    assert normalise_word(raw) == key


def test_the_zero_width_joiner_is_allowed_only_inside_emoji() -> None:
    assert check_entry_text("👨\u200d👩") == "👨\u200d👩"
    for text in ["a\u200db", "\u200d👨", "👨\u200d", "👨\u200d\u200d👩", "x\u200d👩"]:
        with pytest.raises(ValueError, match="control or invisible"):
            check_entry_text(text)


@settings(max_examples=1000, deadline=None)
@given(st.text(max_size=40))
def test_normalisation_is_idempotent(raw: str) -> None:
    spelling = display_form(raw)
    key = normalise_word(raw)
    assert display_form(spelling) == spelling
    assert normalise_word(spelling) == key
    assert normalise_word(key) == key
    assert spelling == spelling.strip()
    assert "  " not in spelling


def test_banned_words_match_normalised_whole_words() -> None:
    banned = BannedWords(["Boring", "black cat", "  "])
    assert banned
    assert banned.matches("boring")
    assert banned.matches("BORING!!")
    assert banned.matches("so ＢＯＲＩＮＧ")
    assert banned.matches("the Black   Cat")
    assert not banned.matches("boringly")
    assert not banned.matches("black dog cat")
    assert not banned.matches("black-cat")
    assert banned.banned_entries(["fun", "Boring", "a black cat"]) == ["Boring", "a black cat"]
    assert not BannedWords([])
    assert not BannedWords([]).matches("anything")


def test_a_questions_banned_words_are_a_pure_check() -> None:
    question = WordcloudQuestion(prompt="p", banned_words=["spam"])
    answer = validate_answer(question, {"words": ["Spam!", "eggs"]})  # validation does not filter
    assert BannedWords(question.banned_words).banned_entries(answer.words) == ["Spam"]


def test_the_answer_schema_describes_every_kind() -> None:
    schema = ANSWER_ADAPTER.json_schema()
    assert schema["discriminator"]["propertyName"] == "kind"
    assert set(schema["discriminator"]["mapping"]) == set(QUESTION_KINDS)
