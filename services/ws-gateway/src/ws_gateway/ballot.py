"""A vote's ballot: which question it answers, and its answer checked against that question.

`question` in the frame is an index (default: the current question). The answer must keep
every rule of the question's public spec (`contracts.answers.validate_answer`): a broken rule
is `invalid_answer` naming it. The question must be open in the cached view, and before its
`closes_at`; the accept script decides for good (with Redis TIME), so a vote the view lets
through may still be refused there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

from contracts import utcnow
from contracts.answers import Answer, InvalidAnswer, validate_answer
from contracts.frames import ErrorCode, VoteFrame
from contracts.polls import PollStatus, QuestionState
from ws_gateway.rooms import PollEntry
from ws_gateway.votes import closed_code, closed_message

# Refusals that a newer state may lift (a question just opened, or just added).
STALE_CODES = frozenset({"poll_closed", "question_closed", "unknown_question"})


@dataclass(frozen=True)
class Ballot:
    question: QuestionState
    answer: Answer  # normalised


@dataclass(frozen=True)
class Refused:
    code: ErrorCode
    message: str
    retry_after: float | None = None


def _past_deadline(question: QuestionState) -> bool:
    """A timed question whose `closes_at` has passed, though no close has reached the view."""
    closes_at = question.closes_at
    if closes_at is None:
        return False
    if closes_at.tzinfo is None:
        closes_at = closes_at.replace(tzinfo=UTC)
    return utcnow() >= closes_at


def take_ballot(entry: PollEntry, frame: VoteFrame) -> Ballot | Refused:
    question = entry.question_at(frame.question)
    if question is None:
        if frame.question is None:
            return Refused("unknown_question", "the poll has no current question")
        return Refused("unknown_question", f"there is no question {frame.question}")
    named = frame.question is not None
    if question.status is not PollStatus.OPEN or _past_deadline(question):
        return Refused(closed_code(named), closed_message(named, question.index))
    try:
        answer = validate_answer(question.spec, frame.answer_fields())
    except InvalidAnswer as exc:
        return Refused("invalid_answer", exc.rule[:200])
    return Ballot(question, answer)
