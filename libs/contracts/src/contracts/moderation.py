"""Word-cloud moderation: which words are withheld from every screen, and why.

A word (its normalised key, `contracts.words.normalise_word`) is withheld when

| reason | when |
|---|---|
| `hidden` | the host hid it (`POST …/words/hide`) |
| `banned` | it contains one of the question's `banned_words` (`BannedWords`, word by word) |
| `profanity` | the question's `profanity_filter` is on and the filter says it is profane |

and the host's `show` overrides the last two (a false positive of the filter, a banned term the
host wants after all). The host's decisions are stored per question as `{key: "hidden" |
"shown"}` (poll-api's `questions.word_moderation`); the profanity filter is a predicate the
service passes in (a library with a word list: contracts stay free of I/O and of its data).

Withholding never changes the counters (`contracts.aggregates`): the stored answers stay as the
participants sent them, and the tally every screen gets is a function of the counters and the
moderation, so hiding then showing a word restores exactly what was there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Literal, get_args

from contracts.words import BannedWords

WordState = Literal["hidden", "shown"]
WithheldReason = Literal["hidden", "banned", "profanity"]
WORD_STATES: frozenset[str] = frozenset(get_args(WordState))
# A host's list is bounded: a poll of 10,000 participants cannot make them hide more.
MAX_MODERATED_WORDS = 1000

Profane = Callable[[str], bool]


def parse_states(raw: object) -> dict[str, WordState]:
    """The stored `{key: state}` map; anything else in it (a bad row) is left out."""
    if not isinstance(raw, Mapping):
        return {}
    states: dict[str, WordState] = {}
    for key, state in raw.items():
        if isinstance(key, str) and key and state == "hidden":
            states[key] = "hidden"
        elif isinstance(key, str) and key and state == "shown":
            states[key] = "shown"
    return states


class WordModeration:
    """The withheld words of one word cloud; `reason(key)` is cached per key, so a tally of
    many words asks the profanity filter once per word, not once per tally."""

    __slots__ = ("_banned", "_cache", "_profane", "_states")

    def __init__(
        self,
        states: Mapping[str, WordState] | None = None,
        banned: Iterable[str] = (),
        profane: Profane | None = None,
    ) -> None:
        self._states: dict[str, WordState] = dict(states or {})
        self._banned = BannedWords(banned)
        self._profane = profane
        self._cache: dict[str, WithheldReason | None] = {}

    @property
    def states(self) -> dict[str, WordState]:
        """The host's decisions (a copy)."""
        return dict(self._states)

    def reason(self, key: str) -> WithheldReason | None:
        """Why the word `key` is withheld, or None when every screen shows it."""
        if key in self._cache:
            return self._cache[key]
        state = self._states.get(key)
        reason: WithheldReason | None
        if state == "hidden":
            reason = "hidden"
        elif state == "shown":
            reason = None
        elif self._banned.matches(key):
            reason = "banned"
        elif self._profane is not None and self._profane(key):
            reason = "profanity"
        else:
            reason = None
        self._cache[key] = reason
        return reason

    def withholds(self, key: str) -> bool:
        return self.reason(key) is not None


NO_MODERATION = WordModeration()
