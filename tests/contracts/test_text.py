"""contracts.text: the plain-text rule every field that people write follows (no markup)."""

from __future__ import annotations

import html

import nh3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.frames import normalize_nickname
from contracts.text import check_plain_text, contains_markup


@pytest.mark.parametrize(
    "text", ["<b>", "</p", "<!--", "<?xml", "x<script>", "<img src=x onerror=alert(1)>"]
)
def test_markup_is_refused(text: str) -> None:
    assert contains_markup(text)
    with pytest.raises(ValueError, match="markup"):
        check_plain_text(text)


@pytest.mark.parametrize("text", ["a < b", "x<5", "<3", "->", "AT&T", "&lt;b&gt;", "1 <= 2"])
def test_comparisons_and_entities_are_plain_text(text: str) -> None:
    assert check_plain_text(text) == text


@pytest.mark.parametrize("text", ["a\u202eb", "zero\u200bwidth", "nul\x00", "line\nbreak"])
def test_controls_and_invisible_characters_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="control or invisible"):
        check_plain_text(text)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from("<>/!?abc &;=\"' \t-"), max_size=30))
def test_accepted_text_is_what_a_sanitiser_keeps(text: str) -> None:
    """Whatever the rule accepts, nh3 (ammonia) with no tags allowed finds nothing to strip."""
    try:
        check_plain_text(text)
    except ValueError:
        return
    assert html.unescape(nh3.clean(text, tags=set())) == html.unescape(text)


def test_nicknames_follow_the_same_rule() -> None:
    assert normalize_nickname("  Ann  ") == "Ann"
    with pytest.raises(ValueError, match="markup"):
        normalize_nickname("<b>Ann</b>")
