"""Word-cloud moderation in poll-api: the host hides and shows words, and reads the list.

poll-api owns the questions, so it stores the host's decisions with the question
(`questions.word_moderation`, `{normalised word: "hidden" | "shown"}`, contracts.moderation).
A change commits with a `question_edited` event for that question (the worker recounts the
question's tally from its stored answers with the new moderation and publishes it) and a
`question.word_hidden` or `question.word_shown` audit event naming the word. Which words are
withheld, and why, is decided by the worker alone (vote_worker.words): it stores the host's
list beside the tally (`tallies.withheld`), read here for the console.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select as sa_select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import utcnow
from contracts.moderation import MAX_MODERATED_WORDS, WithheldReason, WordState, parse_states
from contracts.polls import PollStatus
from contracts.words import MAX_RAW_ENTRY_CHARS, parse_entry
from poll_api import outbox
from poll_api.changes import Changes
from poll_api.crud import tallies
from poll_api.errors import InvalidTransition
from poll_api.models import Question
from poll_api.results import WordResult
from poll_api.run import PollRun, effective_status
from poll_api.service import Change


class WordBody(BaseModel):
    """`{"word"}`: any spelling of the word (it is matched on its normalised form)."""

    model_config = ConfigDict(extra="forbid")

    word: str = Field(max_length=MAX_RAW_ENTRY_CHARS, examples=["Boring"])

    @field_validator("word")
    @classmethod
    def _an_entry(cls, word: str) -> str:
        """The normalised word (the rules of an entry: plain text, 25 characters, 3 words)."""
        return parse_entry(word).key


class WithheldResult(BaseModel):
    word: str = Field(description="The label: the most frequent spelling.")
    key: str = Field(description="The normalised word (what hide and show match).")
    count: int
    reason: WithheldReason


class WordsHost(BaseModel):
    """`GET /api/polls/{room}/questions/{n}/words`: for the host only."""

    index: int
    qid: int
    status: PollStatus
    version: int
    total: int = Field(description="Respondents.")
    distinct: int = Field(description="Distinct words shown (withheld ones left out).")
    words: list[WordResult] = Field(description="The top 100 words every screen shows.")
    withheld: list[WithheldResult] = Field(
        description="The words no screen shows (hidden, banned, profanity), most entered first."
    )
    moderated: dict[str, WordState] = Field(
        description="The host's decisions: normalised word -> hidden or shown."
    )


class WordModerated(BaseModel):
    """The answer to hide and show: the word as matched, and its new state."""

    index: int
    word: str = Field(description="The normalised word.")
    state: WordState


def _word_cloud(run: PollRun, index: int) -> Question:
    question = run.at(index)
    if question.kind != "wordcloud":
        raise InvalidTransition(f"question {index} is not a word cloud: it has no words to hide")
    return question


def moderate(index: int, key: str, state: WordState) -> Change:
    """Set the host's decision on one word of question `index` (a no-op when it is already so:
    nothing is published)."""

    def change(changes: Changes) -> None:
        question = _word_cloud(changes.run, index)
        states: dict[str, WordState] = parse_states(question.word_moderation)
        if states.get(key) == state:
            return
        if key not in states and len(states) >= MAX_MODERATED_WORDS:
            raise InvalidTransition(f"a word cloud keeps at most {MAX_MODERATED_WORDS} decisions")
        states[key] = state
        question.word_moderation = dict(states)  # a new object: the ORM sees the change
        question.updated_at = changes.now
        changes.record("question_edited", question.qid)
        changes.rows.append(
            outbox.audit_row(
                kind="question.word_hidden" if state == "hidden" else "question.word_shown",
                occurred_at=changes.now,
                correlation_id=changes.correlation_id,
                client_ip=changes.client_ip,
                poll_id=changes.run.poll.id,
                data={"qid": question.qid, "index": index, "word": key},
            )
        )

    return change


async def read_withheld(
    session: AsyncSession, poll_id: uuid.UUID, qid: int
) -> tuple[int, int, dict[str, Any], list[Any]] | None:
    """The tally row's (epoch, version, aggregate, withheld), or None before the first answer."""
    t = tallies.c
    query = sa_select(t.epoch, t.version, t.aggregate, t.withheld).where(
        t.poll_id == poll_id, t.qid == qid
    )
    row = (await (await session.connection()).execute(query)).first()
    if row is None:
        return None
    epoch, version, aggregate, withheld = row
    return int(epoch), int(version), dict(aggregate or {}), list(withheld or [])


def words_host(
    run: PollRun, index: int, row: tuple[int, int, dict[str, Any], list[Any]] | None
) -> WordsHost:
    question = _word_cloud(run, index)
    epoch_matches = row is not None and row[0] == question.epoch
    aggregate = row[2] if row is not None and epoch_matches else {}
    withheld = row[3] if row is not None and epoch_matches else []
    return WordsHost(
        index=index,
        qid=question.qid,
        status=effective_status(question, utcnow()),
        version=row[1] if row is not None else 0,
        total=int(aggregate.get("total", 0)),
        distinct=int(aggregate.get("distinct", 0)),
        words=[WordResult(**w) for w in aggregate.get("words", [])],
        withheld=[WithheldResult(**w) for w in withheld],
        moderated=parse_states(question.word_moderation),
    )
