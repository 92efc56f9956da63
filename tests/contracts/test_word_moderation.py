"""contracts.moderation and the word cloud's tally under it: withheld words leave `words` and
`distinct`, never the counters, so hiding then showing restores the exact tally."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.aggregates import recompute
from contracts.answers import WordcloudAnswer
from contracts.moderation import WordModeration, parse_states
from contracts.questions import WordcloudQuestion

CLOUD = WordcloudQuestion(prompt="One word?", banned_words=["black cat"])
ANSWERS = [
    WordcloudAnswer(words=["Python", "a black cat!"]),
    WordcloudAnswer(words=["python", "Rust"]),
    WordcloudAnswer(words=["darn"]),
    WordcloudAnswer(words=["PYTHON"]),
]


def _profane(key: str) -> bool:
    return key == "darn"


def test_withheld_words_leave_the_tally_and_keep_their_counts_for_the_host() -> None:
    agg = recompute(CLOUD, ANSWERS)
    moderation = WordModeration({"rust": "hidden"}, CLOUD.banned_words, _profane)
    tally = agg.tally(moderation=moderation)
    assert tally == {
        "kind": "wordcloud",
        "words": [{"word": "PYTHON", "count": 3}],
        "distinct": 1,
        "total": 4,  # respondents: whoever answered, shown words or not
    }
    assert agg.withheld(moderation) == [
        {"word": "a black cat", "key": "a black cat", "count": 1, "reason": "banned"},
        {"word": "darn", "key": "darn", "count": 1, "reason": "profanity"},
        {"word": "Rust", "key": "rust", "count": 1, "reason": "hidden"},
    ]
    # The counters are the answers', whatever the moderation.
    assert agg == recompute(CLOUD, ANSWERS)


def test_the_hosts_show_wins_over_the_filters() -> None:
    moderation = WordModeration(
        {"darn": "shown", "a black cat": "shown"}, CLOUD.banned_words, _profane
    )
    assert moderation.reason("darn") is None and moderation.reason("a black cat") is None
    assert WordModeration({}, CLOUD.banned_words, _profane).reason("black cat") == "banned"
    assert WordModeration().reason("darn") is None  # no filter given: nothing is profane


def test_stored_states_are_read_defensively() -> None:
    assert parse_states({"a": "hidden", "b": "shown", "c": "gone", "": "hidden", "d": 1}) == {
        "a": "hidden",
        "b": "shown",
    }
    assert parse_states(["a"]) == {} and parse_states(None) == {}


def test_the_filter_is_asked_once_per_word() -> None:
    asked: list[str] = []

    def profane(key: str) -> bool:
        asked.append(key)
        return False

    moderation = WordModeration(profane=profane)
    agg = recompute(CLOUD, ANSWERS * 50)
    for _ in range(3):
        agg.tally(moderation=moderation)
    assert sorted(asked) == sorted({"python", "a black cat", "rust", "darn"})


words = st.sampled_from(["Cat", "cat!", "Dog", "dog", "Fish", "bird", "Bird?", "owl"])
answers = st.lists(
    st.lists(words, min_size=1, max_size=3).map(lambda ws: WordcloudAnswer(words=ws)),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(answers, st.sets(st.sampled_from(["cat", "dog", "fish", "bird", "owl"])))
def test_hide_then_show_restores_the_exact_tally(
    given_answers: list[WordcloudAnswer], hidden: set[str]
) -> None:
    agg = recompute(CLOUD, given_answers)
    before = agg.tally()
    hiding = agg.tally(moderation=WordModeration(dict.fromkeys(hidden, "hidden")))
    assert not {w["word"].casefold().strip("!?") for w in hiding["words"]} & hidden
    assert hiding["distinct"] == sum(1 for key in agg._words if key not in hidden)
    assert hiding["words"] == [
        w for w in before["words"] if w["word"].casefold().strip("!?") not in hidden
    ]
    shown = agg.tally(moderation=WordModeration(dict.fromkeys(hidden, "shown")))
    assert shown == before
