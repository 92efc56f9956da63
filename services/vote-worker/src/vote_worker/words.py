"""Word-cloud moderation in the worker: the one place that decides which words screens get.

The worker owns the tallies, so it applies the moderation (`contracts.moderation`) when it
writes one: the host's hidden and shown words (poll-api's `questions.word_moderation`, read with
the question after the tally row is locked), the question's banned words and the profanity
filter. The tally every screen gets leaves the withheld words out; the host's list of them
(`tallies.withheld`) is stored beside it and never published.

The profanity filter is better-profanity's word list (with its leetspeak variants), loaded once
per process on first use; its answer per word is cached by `WordModeration`, and the moderation
of a question is kept while its stored spec and moderation text are the same, so a word is
checked once per question, not once per batch.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from functools import lru_cache
from typing import Any

import orjson
from better_profanity import Profanity

from contracts.aggregates import AnyAggregate, WithheldWord, WordcloudAggregate
from contracts.moderation import NO_MODERATION, WordModeration, parse_states
from contracts.questions import Question, WordcloudQuestion

log = logging.getLogger(__name__)

CACHE_SIZE = 10_000
PROFANITY_CACHE_SIZE = 200_000

_profanity: Profanity | None = None


@lru_cache(maxsize=PROFANITY_CACHE_SIZE)
def profane(key: str) -> bool:
    """Whether better-profanity's list holds the word or one of its words (a key is folded).

    Cached per key across questions: a host's hide builds a new moderation for the question,
    and its words must not all be checked again (~0.1 ms each) while the tally row is locked."""
    global _profanity
    if _profanity is None:
        _profanity = Profanity()
        _profanity.load_censor_words()
    return bool(_profanity.contains_profanity(key))


def moderation_of(spec: Question, stored: object) -> WordModeration:
    """The moderation of a question from its spec and stored `{key: state}` (decoded JSON)."""
    if not isinstance(spec, WordcloudQuestion):
        return NO_MODERATION
    return WordModeration(
        parse_states(stored),
        banned=spec.banned_words,
        profane=profane if spec.profanity_filter else None,
    )


class ModerationCache:
    """Moderations by (spec text, moderation text), least recently used first out: an entry
    keeps its per-word answers as long as neither changes."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[str, str], WordModeration] = OrderedDict()

    def get(self, spec: Question, spec_text: str, stored_text: str | None) -> WordModeration:
        if not isinstance(spec, WordcloudQuestion):
            return NO_MODERATION
        key = (spec_text, stored_text or "{}")
        found = self._entries.get(key)
        if found is None:
            try:
                stored = orjson.loads(key[1])
            except orjson.JSONDecodeError:
                log.error("unreadable word moderation: ignored")
                stored = {}
            found = moderation_of(spec, stored)
            self._entries[key] = found
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        return found


MODERATIONS = ModerationCache()


def public_tally(aggregate: AnyAggregate, moderation: WordModeration) -> dict[str, Any]:
    """The tally every screen gets: a word cloud's without its withheld words."""
    if isinstance(aggregate, WordcloudAggregate):
        return dict(aggregate.tally(moderation=moderation))
    return dict(aggregate.tally())


def withheld_words(aggregate: AnyAggregate, moderation: WordModeration) -> list[WithheldWord]:
    """The host's list of withheld words (empty for other kinds)."""
    if isinstance(aggregate, WordcloudAggregate) and moderation is not NO_MODERATION:
        return aggregate.withheld(moderation)
    return []
