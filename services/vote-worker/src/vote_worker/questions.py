"""The questions the worker validates answers against, read from poll-api's `questions` table.

Every transaction reads each question's row again after locking its tally (so a reset committed
before the lock is seen: its `epoch` is compared with the tally's); only the parsed spec is
cached, keyed by the spec's stored text, so an edit is noticed too and parsing happens once per
version of a question, not once per batch.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

import asyncpg
import orjson

from contracts.moderation import NO_MODERATION, WordModeration
from contracts.questions import Question, parse_stored_question
from vote_worker.words import MODERATIONS

log = logging.getLogger(__name__)

Key = tuple[UUID, int]  # (poll_id, qid)
CACHE_SIZE = 10_000

_READ_QUESTIONS = """
SELECT q.poll_id, q.qid, q.epoch, q.spec::text AS spec,
       q.word_moderation::text AS word_moderation
FROM questions q
JOIN unnest($1::uuid[], $2::smallint[]) AS k(poll_id, qid)
  ON q.poll_id = k.poll_id AND q.qid = k.qid
"""

_QIDS_OF_POLL = "SELECT qid FROM questions WHERE poll_id = $1 ORDER BY qid"

_EXISTING_POLLS = "SELECT id FROM polls WHERE id = ANY($1::uuid[])"


@dataclass(frozen=True)
class StoredQuestion:
    """A question as the worker needs it: its spec (settings, kind), its current epoch and,
    for a word cloud, the words withheld from screens (vote_worker.words)."""

    spec: Question
    epoch: int
    moderation: WordModeration = NO_MODERATION

    @property
    def kind(self) -> str:
        return self.spec.kind


class SpecCache:
    """Parsed specs by (poll, qid), valid while the stored text is the same; least recently
    used first out."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._size = size
        self._specs: OrderedDict[Key, tuple[str, Question | None]] = OrderedDict()

    def parse(self, key: Key, text: str) -> Question | None:
        """The spec stored as `text` (None when it is not a valid question: nothing fits it)."""
        cached = self._specs.get(key)
        if cached is not None and cached[0] == text:
            self._specs.move_to_end(key)
            return cached[1]
        spec: Question | None
        try:
            spec = parse_stored_question(orjson.loads(text))
        except ValueError as exc:  # pydantic's ValidationError and orjson's errors are ValueErrors
            log.error("question %s/%s has an invalid spec: %s", key[0], key[1], exc)
            spec = None
        self._specs[key] = (text, spec)
        self._specs.move_to_end(key)
        while len(self._specs) > self._size:
            self._specs.popitem(last=False)
        return spec


SPECS = SpecCache()


def unzip(keys: Iterable[Key]) -> tuple[list[UUID], list[int]]:
    listed = list(keys)
    return [k[0] for k in listed], [k[1] for k in listed]


async def read_questions(
    conn: asyncpg.Connection, keys: Iterable[Key], specs: SpecCache = SPECS
) -> dict[Key, StoredQuestion]:
    """The stored questions among `keys` (a missing or unreadable one is left out)."""
    poll_ids, qids = unzip(keys)
    found: dict[Key, StoredQuestion] = {}
    for row in await conn.fetch(_READ_QUESTIONS, poll_ids, qids):
        key = (row["poll_id"], row["qid"])
        spec = specs.parse(key, row["spec"])
        if spec is not None:
            moderation = MODERATIONS.get(spec, row["spec"], row["word_moderation"])
            found[key] = StoredQuestion(spec, row["epoch"], moderation)
    return found


async def qids_of(conn: asyncpg.Connection, poll_id: UUID) -> list[int]:
    return [row["qid"] for row in await conn.fetch(_QIDS_OF_POLL, poll_id)]


async def existing_polls(conn: asyncpg.Connection, poll_ids: Iterable[UUID]) -> set[UUID]:
    return {row["id"] for row in await conn.fetch(_EXISTING_POLLS, list(set(poll_ids)))}
