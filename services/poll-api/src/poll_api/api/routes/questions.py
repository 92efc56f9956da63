"""The host's run of questions: list, append, edit, delete, move, and per-question actions.

`n` in the paths is the question's index in the run (docs/questions.md). Every route needs the
host token, and checks it before anything about the poll's state (a stranger gets 401/403,
never a 404 or 409 that tells the run).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, status

from contracts import utcnow
from contracts.questions import QuestionSpec
from poll_api import host_actions, service
from poll_api.api.deps import CallerDep, ContextDep, ReadSessionDep, RoomCodeDep, SessionDep
from poll_api.api.routes.polls import HOST_ACTIONS, HOST_ERRORS
from poll_api.lifecycle import HostAction
from poll_api.models import MoveTo, PollPublic, QuestionsHost
from poll_api.run import PollRun
from poll_api.views import poll_public, questions_host

router = APIRouter(prefix="/api/polls/{room_code}/questions", tags=["questions"])


def _host_view(run: PollRun) -> QuestionsHost:
    return QuestionsHost(
        current=run.current_index,
        state_version=run.poll.state_version,
        questions=questions_host(run, utcnow()),
    )


@router.get("", response_model=QuestionsHost, responses=HOST_ERRORS)
async def list_questions(
    room_code: RoomCodeDep, reads: ReadSessionDep, session: SessionDep, caller: CallerDep
) -> QuestionsHost:
    """The run with full specs (a quiz's `correct` included): for the host only."""
    return _host_view(await service.host_read(reads, session, room_code, caller, "questions"))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=QuestionsHost,
    responses=HOST_ERRORS,
)
async def add_question(
    room_code: RoomCodeDep,
    spec: QuestionSpec,
    ctx: ContextDep,
    session: SessionDep,
    caller: CallerDep,
) -> QuestionsHost:
    """Append a draft question (at most 50 per poll)."""
    change = host_actions.add(spec)
    return _host_view(await service.change_poll(ctx, session, room_code, caller, "add", change))


@router.patch("/{index}", response_model=QuestionsHost, responses=HOST_ERRORS)
async def edit_question(
    room_code: RoomCodeDep,
    index: int,
    ctx: ContextDep,
    session: SessionDep,
    caller: CallerDep,
    fields: dict[str, Any] = Body(  # noqa: B008 - FastAPI's way to declare a free-form body
        description="Settings to change, merged onto the question (a new `kind` replaces it)."
    ),
) -> QuestionsHost:
    """Change a question that was never opened (409 once it was)."""
    change = host_actions.edit(index, fields)
    return _host_view(await service.change_poll(ctx, session, room_code, caller, "edit", change))


@router.delete("/{index}", response_model=QuestionsHost, responses=HOST_ERRORS)
async def delete_question(
    room_code: RoomCodeDep, index: int, ctx: ContextDep, session: SessionDep, caller: CallerDep
) -> QuestionsHost:
    """Delete a question that was never opened; the poll keeps at least one."""
    change = host_actions.delete(index)
    return _host_view(await service.change_poll(ctx, session, room_code, caller, "delete", change))


@router.post("/{index}/move", response_model=QuestionsHost, responses=HOST_ERRORS)
async def move_question(
    room_code: RoomCodeDep,
    index: int,
    body: MoveTo,
    ctx: ContextDep,
    session: SessionDep,
    caller: CallerDep,
) -> QuestionsHost:
    """Move a question to index `to` (any status: answers follow its qid)."""
    change = host_actions.move(index, body.to)
    return _host_view(await service.change_poll(ctx, session, room_code, caller, "move", change))


@router.post("/{index}/show", response_model=PollPublic, responses=HOST_ERRORS)
async def show_question(
    room_code: RoomCodeDep, index: int, ctx: ContextDep, session: SessionDep, caller: CallerDep
) -> PollPublic:
    """Make the question current: the one participants see (any status)."""
    change = host_actions.show(index)
    run = await service.change_poll(ctx, session, room_code, caller, "show", change)
    return poll_public(run, utcnow())


def _add_question_action(action: HostAction, description: str) -> None:
    async def run_action(
        room_code: RoomCodeDep,
        index: int,
        ctx: ContextDep,
        session: SessionDep,
        caller: CallerDep,
    ) -> PollPublic:
        change = host_actions.act(action, index)
        run = await service.change_poll(ctx, session, room_code, caller, action, change)
        return poll_public(run, utcnow())

    run_action.__doc__ = f"Question n: {description} Several questions may be open at once."
    router.add_api_route(
        f"/{{index}}/{action}",
        run_action,
        methods=["POST"],
        name=f"{action}_question",
        response_model=PollPublic,
        responses=HOST_ERRORS,
    )


for _action, _description in HOST_ACTIONS.items():
    _add_question_action(_action, _description)
