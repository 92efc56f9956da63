"""A poll with its questions in order: what every change and every view works on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from contracts.polls import PollStatus
from contracts.questions import Question as QuestionSpec
from contracts.questions import parse_stored_question
from poll_api.errors import QuestionNotFound
from poll_api.models import Poll, Question


def spec_of(question: Question) -> QuestionSpec:
    """The stored spec as its contract model (validated again: a row is data like any other)."""
    return parse_stored_question(question.spec)


def effective_status(question: Question, now: datetime) -> PollStatus:
    """The status every view shows: an open question past its `closes_at` is closed, even
    before the timer loop has recorded it (the gateway already refuses its answers)."""
    status = PollStatus(question.status)
    if status == PollStatus.OPEN and question.closes_at is not None and question.closes_at <= now:
        return PollStatus.CLOSED
    return status


@dataclass
class PollRun:
    poll: Poll
    questions: list[Question]  # by position

    def __post_init__(self) -> None:
        self.questions.sort(key=lambda q: q.position)

    def renumber(self) -> None:
        """Positions 0..n-1 in list order (after a delete or a move)."""
        for index, question in enumerate(self.questions):
            if question.position != index:
                question.position = index

    def at(self, index: int) -> Question:
        if not 0 <= index < len(self.questions):
            raise QuestionNotFound(index, len(self.questions))
        return self.questions[index]

    def by_qid(self, qid: int) -> Question | None:
        return next((q for q in self.questions if q.qid == qid), None)

    @property
    def current(self) -> Question:
        found = self.by_qid(self.poll.current_qid)
        return found if found is not None else self.questions[0]

    @property
    def current_index(self) -> int:
        return self.current.position
