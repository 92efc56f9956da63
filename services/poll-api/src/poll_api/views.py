"""Turning a poll's rows into what others see: the contract view and the API views."""

from __future__ import annotations

from datetime import datetime

from contracts.polls import PollStatus, PollView, QuestionState
from contracts.questions import public_view
from poll_api.models import PollPublic, PollResults, Question, QuestionHost
from poll_api.run import PollRun, effective_status, spec_of

# The row's columns that the public view shows besides those of the contract view.
_PUBLIC_COLUMNS = {"state_version", "created_at", "opened_at", "closed_at", "expires_at"}


def question_state(question: Question, now: datetime) -> QuestionState:
    """One question as every screen may see it (its public spec: no quiz answer)."""
    return QuestionState(
        qid=question.qid,
        index=question.position,
        spec=public_view(spec_of(question)),
        status=effective_status(question, now),
        revealed=question.revealed,
        epoch=question.epoch,
        opened_at=question.opened_at,
        closes_at=question.closes_at,
        ever_opened=question.ever_opened,
    )


def poll_view(run: PollRun, now: datetime) -> PollView:
    """The contract view that screens, caches and messages share."""
    poll = run.poll
    questions = [question_state(q, now) for q in run.questions]
    current = questions[run.current_index]
    options = getattr(current.spec, "options", None)
    return PollView(
        id=poll.id,
        room_code=poll.room_code,
        title=poll.title,
        question=current.spec.prompt,
        options=list(options or []),
        kind=current.spec.kind,
        status=current.status,
        revealed=current.revealed,
        epoch=current.epoch,
        hide_results_until_reveal=bool(poll.settings.get("hide_results_until_reveal", False)),
        current=run.current_index,
        questions=questions,
    )


def poll_public(
    run: PollRun,
    now: datetime,
    *,
    participant_count: int = 0,
    results: PollResults | None = None,
) -> PollPublic:
    """What anyone may see of a poll; `results` only once the current question is revealed."""
    view = poll_view(run, now)
    return PollPublic(
        **view.model_dump(exclude={"questions"}),
        **run.poll.model_dump(include=_PUBLIC_COLUMNS),
        questions=view.questions,
        participant_count=participant_count,
        results=results if view.revealed else None,
        qa_enabled=bool(run.poll.settings.get("qa_enabled", False)),
        qa_moderated=bool(run.poll.settings.get("qa_moderated", False)),
    )


def question_host(run: PollRun, question: Question, now: datetime) -> QuestionHost:
    """A question as its host sees it: the full spec, who closed it and when."""
    status = effective_status(question, now)
    timed_out = status == PollStatus.CLOSED and question.status == PollStatus.OPEN.value
    return QuestionHost(
        index=question.position,
        qid=question.qid,
        kind=question.kind,
        spec=spec_of(question).model_dump(mode="json"),
        status=status,
        revealed=question.revealed,
        epoch=question.epoch,
        ever_opened=question.ever_opened,
        opened_at=question.opened_at,
        closes_at=question.closes_at,
        closed_at=question.closes_at if timed_out else question.closed_at,
        closed_by="timer" if timed_out else question.closed_by,  # type: ignore[arg-type]
        current=question.qid == run.current.qid,
    )


def questions_host(run: PollRun, now: datetime) -> list[QuestionHost]:
    return [question_host(run, q, now) for q in run.questions]
