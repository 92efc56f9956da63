"""The question state machine: which host action is allowed in which state, what it changes,
and how the poll's own columns follow its current question."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from contracts.polls import PollEventName, PollStatus
from poll_api.errors import InvalidTransition
from poll_api.models import Poll, Question

HostAction = Literal["open", "close", "reveal", "reset"]

EVENT_OF: dict[HostAction, PollEventName] = {
    "open": "opened",
    "close": "closed",
    "reveal": "revealed",
    "reset": "reset",
}


def close_if_due(question: Question, now: datetime) -> bool:
    """Record the timer's close of a question whose `closes_at` has passed; True if it did.

    `closed_at` is `closes_at`, not now: that is when the gateway stopped accepting answers.
    """
    due = question.closes_at
    if question.status != PollStatus.OPEN.value or due is None or due > now:
        return False
    question.status = PollStatus.CLOSED.value
    question.closed_at = due
    question.closed_by = "timer"
    question.updated_at = now
    return True


def apply_action(question: Question, action: HostAction, now: datetime) -> PollEventName:
    """Change `question` in place for `action`; return the event name.

    Raises InvalidTransition (nothing changed) when the action is not allowed, including when
    it would repeat itself (opening an open question, revealing a revealed one). Settle the
    timer first (`close_if_due`), so that a question past its deadline counts as closed.
    """
    status = PollStatus(question.status)
    n = question.position
    if action == "open":
        if status == PollStatus.OPEN:
            raise InvalidTransition(f"question {n} is already open")
        time_limit = question.spec.get("time_limit_s")
        question.status = PollStatus.OPEN.value
        question.ever_opened = True
        question.opened_at = now
        question.closes_at = now + timedelta(seconds=time_limit) if time_limit else None
        question.closed_at = None
        question.closed_by = None
    elif action == "close":
        if status != PollStatus.OPEN:
            raise InvalidTransition(
                f"only an open question can be closed (question {n} is {status.value})"
            )
        question.status = PollStatus.CLOSED.value
        question.closed_at = now
        question.closed_by = "host"
    elif action == "reveal":
        if question.revealed:
            raise InvalidTransition(f"the results of question {n} are already revealed")
        question.revealed = True
        question.revealed_at = now
    elif action == "reset":
        if status == PollStatus.DRAFT and not question.revealed:
            raise InvalidTransition(f"question {n} is already in its initial draft state")
        question.status = PollStatus.DRAFT.value
        question.revealed = False
        question.revealed_at = None
        question.opened_at = None
        question.closes_at = None
        question.closed_at = None
        question.closed_by = None
        # Answers carry their epoch: bumping it makes every earlier answer stale for the worker.
        question.epoch += 1
    else:  # pragma: no cover - guarded by the HostAction type and the routes
        raise InvalidTransition(f"unknown action {action!r}")
    question.updated_at = now
    return EVENT_OF[action]


def mirror_current(poll: Poll, current: Question) -> None:
    """The poll's first-version columns follow its current question."""
    spec = current.spec
    poll.current_qid = current.qid
    poll.question = str(spec["prompt"])
    poll.options = list(spec.get("options") or [])
    poll.kind = current.kind
    poll.status = current.status
    poll.revealed = current.revealed
    poll.epoch = current.epoch
    poll.opened_at = current.opened_at
    poll.closed_at = current.closed_at
    poll.revealed_at = current.revealed_at
