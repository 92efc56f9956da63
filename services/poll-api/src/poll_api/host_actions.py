"""The host's changes to a run of questions, as functions of one transaction's `Changes`.

Each raises (nothing changed) QuestionNotFound for an index outside the run,
InvalidTransition for a change not allowed now, RequestValidationError for a question that
breaks a rule of contracts.questions.
"""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from contracts.questions import MAX_QUESTIONS, parse_question
from contracts.questions import Question as QuestionSpec
from poll_api import crud
from poll_api.changes import Changes
from poll_api.errors import InvalidTransition
from poll_api.lifecycle import HostAction, apply_action
from poll_api.service import Change


def act(action: HostAction, index: int | None = None) -> Change:
    """open / close / reveal / reset question `index` (None: the current question)."""

    def change(changes: Changes) -> None:
        run = changes.run
        question = run.current if index is None else run.at(index)
        event = apply_action(question, action, changes.now)
        changes.record(event, question.qid, "host" if action == "close" else None)

    return change


def show(index: int) -> Change:
    """Make question `index` current (showing the current one again changes nothing)."""

    def change(changes: Changes) -> None:
        question = changes.run.at(index)
        if question.qid == changes.run.poll.current_qid:
            return
        changes.run.poll.current_qid = question.qid
        changes.record("shown", question.qid)

    return change


def add(spec: QuestionSpec) -> Change:
    """Append a draft question with the next qid."""

    def change(changes: Changes) -> None:
        run = changes.run
        if len(run.questions) >= MAX_QUESTIONS:
            raise InvalidTransition(f"a poll holds at most {MAX_QUESTIONS} questions")
        poll = run.poll
        question = crud.new_question(poll.id, poll.next_qid, len(run.questions), spec, changes.now)
        poll.next_qid += 1
        run.questions.append(question)
        changes.record("question_added", question.qid)

    return change


def _never_opened(changes: Changes, index: int, verb: str) -> None:
    question = changes.run.at(index)
    if question.ever_opened:
        raise InvalidTransition(
            f"question {index} was opened: it can no longer be {verb} (reset keeps its answers'"
            " text)"
        )


def edit(index: int, fields: dict[str, Any]) -> Change:
    """Change the settings of a never-opened question: `fields` are merged onto its spec (a
    different `kind` replaces the spec) and the result must be a valid question."""

    def change(changes: Changes) -> None:
        _never_opened(changes, index, "edited")
        question = changes.run.at(index)
        kind = fields.get("kind", question.kind)
        merged = {**question.spec, **fields} if kind == question.kind else dict(fields)
        try:
            spec = parse_question(merged)
        except ValidationError as exc:
            raise RequestValidationError(
                [
                    {"loc": ("body", *err["loc"]), "msg": err["msg"], "type": err["type"]}
                    for err in exc.errors()
                ]
            ) from None
        question.kind = spec.kind
        question.spec = spec.model_dump(mode="json")
        question.updated_at = changes.now
        changes.record("question_edited", question.qid)

    return change


def delete(index: int) -> Change:
    """Delete a never-opened question; the last one is never deleted. If it was current, the
    question that takes its place (or the new last one) becomes current."""

    def change(changes: Changes) -> None:
        _never_opened(changes, index, "deleted")
        run = changes.run
        if len(run.questions) == 1:
            raise InvalidTransition("a poll keeps at least one question")
        question = run.questions.pop(index)
        changes.deleted.append(question)
        run.renumber()
        if question.qid == run.poll.current_qid:
            run.poll.current_qid = run.questions[min(index, len(run.questions) - 1)].qid
        changes.record("question_deleted", question.qid)

    return change


def move(index: int, to: int) -> Change:
    """Move question `index` to position `to`; qids, answers and the current question stay."""

    def change(changes: Changes) -> None:
        run = changes.run
        question = run.at(index)
        if to >= len(run.questions):
            raise RequestValidationError(
                [
                    {
                        "loc": ("body", "to"),
                        "msg": f"to must be an index of the run (0 to {len(run.questions) - 1})",
                        "type": "value_error",
                    }
                ]
            )
        if to == index:
            return
        run.questions.pop(index)
        run.questions.insert(to, question)
        run.renumber()
        changes.record("question_moved", question.qid)

    return change
