"""Results of a poll's questions from the worker's tallies, as JSON-ready models.

A question's aggregate comes from its `tallies` row's counters (`contracts.aggregates`, the
stored form the worker keeps exact); a question without a row yet, or whose row is of an
earlier epoch (a reset the worker has not seen), has the kind's empty aggregate.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from contracts.aggregates import aggregate_for, decode_counters
from contracts.polls import PollStatus
from contracts.questions import Question as QuestionSpec
from contracts.questions import QuizQuestion
from poll_api.crud import TallyRow
from poll_api.models import OptionResult, PollResults
from poll_api.run import PollRun, effective_status, spec_of

log = logging.getLogger(__name__)

_COUNT_KINDS = {"single", "multiple", "quiz"}


class WordResult(BaseModel):
    word: str
    count: int


class QuestionResults(BaseModel):
    """One question's results: its state and its kind's aggregate fields (only those)."""

    model_config = ConfigDict(extra="forbid")

    index: int
    qid: int
    kind: str
    prompt: str
    status: PollStatus
    revealed: bool
    epoch: int
    total: int = Field(description="Respondents (for multiple: the base of each percentage).")
    version: int
    labels: list[str] | None = Field(default=None, description="The options, for kinds with some.")
    options: list[OptionResult] | None = Field(
        default=None, description="single, multiple, quiz: count and percent per option."
    )
    counts: list[int] | None = Field(default=None, description="single, multiple, quiz, rating")
    sum: int | None = Field(default=None, description="rating")
    mean: str | None = Field(default=None, description="rating: exact to 2 decimals")
    points: list[int] | None = Field(default=None, description="ranking: Borda points")
    average: list[str | None] | None = Field(default=None, description="ranking")
    words: list[WordResult] | None = Field(default=None, description="wordcloud: top 100")
    distinct: int | None = Field(default=None, description="wordcloud")
    correct: list[int] | None = Field(
        default=None,
        description="quiz: the correct options, for the host once the question is closed only.",
    )


class QuestionResultsPublic(QuestionResults):
    """`GET /api/polls/{room_code}/questions/{n}/results`."""

    poll_id: uuid.UUID
    room_code: str


class ResultsPublic(PollResults):
    """`GET /api/polls/{room_code}/results`: the current question's results at the top level
    (as the first version had them), and every question's in `questions`."""

    poll_id: uuid.UUID
    room_code: str
    title: str | None
    status: PollStatus
    revealed: bool
    epoch: int
    current: int
    questions: list[QuestionResults]


def tally_of(spec: QuestionSpec, epoch: int, row: TallyRow | None) -> dict[str, Any]:
    """The kind's tally (contracts.aggregates) of a question from its row, or empty."""
    if row is not None and row.epoch == epoch and row.kind == spec.kind:
        if spec.kind == "wordcloud" and row.aggregate.get("kind") == "wordcloud":
            # The worker's tally, which leaves out the withheld words (poll_api.words): the
            # counters hold every word entered.
            return dict(row.aggregate)
        try:
            # One aggregate class per kind: restore with the spec's own class.
            kind_class: Any = type(aggregate_for(spec))
            return dict(kind_class.from_counters(spec, decode_counters(row.counters)).tally())
        except (ValueError, TypeError) as exc:
            # Counters that do not fit the question: what the worker showed screens instead.
            log.warning("unreadable tally counters", extra={"qid": row.qid, "error": repr(exc)})
            if row.aggregate.get("kind") == spec.kind:
                return dict(row.aggregate)
    return dict(aggregate_for(spec).tally())


def _option_rows(labels: list[str], counts: list[int], total: int) -> list[OptionResult]:
    return [
        OptionResult(
            index=index,
            text=text,
            count=counts[index] if index < len(counts) else 0,
            percent=round(100.0 * counts[index] / total, 1)
            if total and index < len(counts)
            else 0.0,
        )
        for index, text in enumerate(labels)
    ]


def question_results(
    run: PollRun, index: int, tallies: dict[int, TallyRow], now: datetime, *, host: bool = False
) -> QuestionResults:
    """One question's results; `host`: the caller is the host, who alone sees a closed quiz's
    `correct` (invariant 6: never before the close, never to anyone else here)."""
    question = run.at(index)
    spec = spec_of(question)
    row = tallies.get(question.qid)
    tally = tally_of(spec, question.epoch, row)
    tally.pop("kind", None)
    status = effective_status(question, now)
    fields: dict[str, Any] = {
        "index": question.position,
        "qid": question.qid,
        "kind": spec.kind,
        "prompt": spec.prompt,
        "status": status,
        "revealed": question.revealed,
        "epoch": question.epoch,
        "version": row.version if row is not None else 0,
        **tally,
    }
    labels = getattr(spec, "options", None)
    if labels is not None:
        fields["labels"] = list(labels)
        if spec.kind in _COUNT_KINDS:
            fields["options"] = _option_rows(list(labels), tally["counts"], tally["total"])
    if host and isinstance(spec, QuizQuestion) and status == PollStatus.CLOSED:
        fields["correct"] = list(spec.correct)
    return QuestionResults(**fields)


def poll_results(run: PollRun, tallies: dict[int, TallyRow], now: datetime) -> PollResults:
    """The current question's counts, in the first version's shape (`counts`, `options`)."""
    current = question_results(run, run.current_index, tallies, now)
    return PollResults(
        counts=current.counts or [],
        total=current.total,
        version=current.version,
        options=current.options or [],
    )


def results_public(
    run: PollRun, tallies: dict[int, TallyRow], now: datetime, *, only_revealed: bool
) -> ResultsPublic:
    questions = [
        question_results(run, i, tallies, now, host=not only_revealed)
        for i in range(len(run.questions))
    ]
    current = questions[run.current_index]
    return ResultsPublic(
        **poll_results(run, tallies, now).model_dump(),
        poll_id=run.poll.id,
        room_code=run.poll.room_code,
        title=run.poll.title,
        status=current.status,
        revealed=current.revealed,
        epoch=current.epoch,
        current=run.current_index,
        questions=[q for q in questions if q.revealed or not only_revealed],
    )
