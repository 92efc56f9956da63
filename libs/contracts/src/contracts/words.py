"""Word-cloud entries: the plain-text rule, normalisation, and banned-word matching.

An entry is what a participant types in one field of a word cloud: up to
`MAX_ENTRY_CHARS` characters and `MAX_ENTRY_WORDS` words. Two forms come out of it:

- the *spelling* (`display_form`): NFKC, trimmed, whitespace collapsed to one space and
  punctuation stripped around each word, case kept. It is what a screen shows: the label of a
  word is its most frequent spelling.
- the *key* (`normalise_word`): the spelling case-folded (and NFKC again, since case folding can
  leave a string that is not NFKC), without emoji variation selectors. It is what is counted: a
  participant counts once per key, and "Cat", "cat!" and " CAT " are one word.

Punctuation is Unicode category P*: "(hello)" -> "hello", "don't!" -> "don't", "#tag" -> "tag".
Symbols (S*) are kept, so are emoji, "$5" and "+1". "Characters" are code points of the
spelling: a family emoji of three people joined by U+200D counts five.

Emoji are kept, which needs one exception to `contracts.text`: the zero-width joiner U+200D is
refused there (it hides text), but it is also what glues emoji sequences such as a family or a
rainbow flag. Here it is accepted only between two pictographic characters (a variation selector
or skin-tone modifier may sit before it); anywhere else it is refused like every invisible
character. Format characters (Cf: soft hyphen, direction marks, tags) and private-use characters
are refused as well: in a word that others see, an invisible character only serves to make two
equal-looking words count apart. Unassigned code points (Cn) are allowed, because this Python's
Unicode database is older than the newest emoji, which would otherwise be refused.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from contracts.text import check_plain_text

MAX_ENTRY_CHARS = 25
MAX_ENTRY_WORDS = 3
# What arrives may be longer than the spelling (spaces, punctuation, compatibility forms):
# bound the raw text first so that normalisation never works on a huge string.
MAX_RAW_ENTRY_CHARS = 4 * MAX_ENTRY_CHARS

_ZWJ = "\u200d"
_VARIATION_SELECTORS = frozenset("\ufe0e\ufe0f")
_SKIN_TONES = frozenset(chr(c) for c in range(0x1F3FB, 0x1F400))
# Cleared for the text check: an emoji joiner is replaced by a harmless stand-in.
_JOINER_STAND_IN = "\u2022"


def _pictographic(ch: str) -> bool:
    category = unicodedata.category(ch)
    # Cn above U+1F000: emoji newer than this Unicode database (they are So once it knows them).
    return category == "So" or (category == "Cn" and ord(ch) >= 0x1F000)


def _emoji_joiner(text: str, at: int) -> bool:
    """True when the U+200D at `text[at]` joins two pictographs (an emoji ZWJ sequence)."""
    before = at - 1
    while before >= 0 and (text[before] in _VARIATION_SELECTORS or text[before] in _SKIN_TONES):
        before -= 1
    after = at + 1
    return (
        before >= 0
        and after < len(text)
        and _pictographic(text[before])
        and _pictographic(text[after])
    )


def check_entry_text(text: str) -> str:
    """The plain-text rule of `contracts.text` plus the word-cloud rules; return `text`.

    Raises ValueError naming the rule (markup, control or invisible characters).
    """
    cleared = "".join(
        _JOINER_STAND_IN if ch == _ZWJ and _emoji_joiner(text, i) else ch
        for i, ch in enumerate(text)
    )
    check_plain_text(cleared)
    for ch in cleared:
        if unicodedata.category(ch) in {"Cf", "Co"}:
            raise ValueError("text contains control or invisible characters")
    return text


def _strip_punctuation(word: str) -> str:
    start, end = 0, len(word)
    while start < end and unicodedata.category(word[start]).startswith("P"):
        start += 1
    while end > start and unicodedata.category(word[end - 1]).startswith("P"):
        end -= 1
    return word[start:end]


def display_form(raw: str) -> str:
    """The spelling of an entry: NFKC, trimmed, whitespace collapsed, punctuation stripped
    around words, case kept. Idempotent. Empty when nothing but punctuation and spaces is left."""
    text = unicodedata.normalize("NFKC", raw)
    words = (_strip_punctuation(word) for word in text.split())
    # NFKC again: removing a character can make a new composition possible.
    return unicodedata.normalize("NFKC", " ".join(word for word in words if word))


def normalise_word(raw: str) -> str:
    """The key an entry is counted under: its spelling case-folded, variation selectors dropped
    (so a heart with and without U+FE0F is one word). Idempotent."""
    folded = unicodedata.normalize("NFKC", display_form(raw).casefold())
    key = "".join(ch for ch in folded if ch not in _VARIATION_SELECTORS)
    # Folding and dropping selectors can expose punctuation or spaces: settle on a fixed point.
    again = display_form(key)
    return key if again == key else normalise_word(again)


class WordEntry(NamedTuple):
    """One accepted entry: the spelling shown and the key counted."""

    spelling: str
    key: str


def parse_entry(raw: str) -> WordEntry:
    """Check one raw entry and return its spelling and key.

    Raises ValueError naming the rule: plain text, at most `MAX_ENTRY_CHARS` characters and
    `MAX_ENTRY_WORDS` words, not empty once normalised.
    """
    if len(raw) > MAX_RAW_ENTRY_CHARS:
        raise ValueError(f"each entry must be at most {MAX_ENTRY_CHARS} characters")
    check_entry_text(raw)
    spelling = display_form(raw)
    # NFKC can turn harmless compatibility characters into markup: the fullwidth U+FF1C and
    # U+FF1E become "<" and ">".
    check_entry_text(spelling)
    if not spelling:
        raise ValueError("each entry must contain a word (not only spaces or punctuation)")
    if len(spelling) > MAX_ENTRY_CHARS:
        raise ValueError(f"each entry must be at most {MAX_ENTRY_CHARS} characters")
    if len(spelling.split(" ")) > MAX_ENTRY_WORDS:
        raise ValueError(f"each entry must be at most {MAX_ENTRY_WORDS} words")
    key = normalise_word(spelling)
    if not key:
        raise ValueError("each entry must contain a word (not only spaces or punctuation)")
    return WordEntry(spelling, key)


class BannedWords:
    """A host's banned words, matched on keys, word by word.

    A banned term (one to three words) matches an entry when its words appear in the entry's
    words, consecutively: "cat" bans "cat", "Cat!" and "black cat", not "category". Pure: the
    caller decides whether a match is refused or hidden.
    """

    __slots__ = ("_terms",)

    def __init__(self, banned: Iterable[str]) -> None:
        self._terms = frozenset(
            tuple(key.split(" ")) for key in (normalise_word(term) for term in banned) if key
        )

    def __bool__(self) -> bool:
        return bool(self._terms)

    def matches(self, entry: str) -> bool:
        """True when the entry (raw, a spelling or a key) contains a banned term."""
        if not self._terms:
            return False
        words = normalise_word(entry).split(" ")
        return any(
            tuple(words[i:j]) in self._terms
            for i in range(len(words))
            for j in range(i + 1, len(words) + 1)
        )

    def banned_entries(self, entries: Sequence[str]) -> list[str]:
        """The entries that contain a banned term, in their order."""
        return [entry for entry in entries if self.matches(entry)]
