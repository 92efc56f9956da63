"""Turning a `polls` row into what others see: the contract view and the public API views."""

from __future__ import annotations

from contracts.polls import PollStatus, PollView
from poll_api.models import Poll, PollPublic, PollResults, ResultsPublic

# The row's columns that the public view shows besides those of the contract view.
_PUBLIC_COLUMNS = {"kind", "state_version", "created_at", "opened_at", "closed_at", "expires_at"}
# The poll's fields that head its results.
_RESULTS_HEADING = {"room_code", "status", "revealed", "epoch"}


def poll_view(poll: Poll) -> PollView:
    """The contract view that screens, caches and messages share."""
    return PollView(
        id=poll.id,
        room_code=poll.room_code,
        question=poll.question,
        options=list(poll.options),
        status=PollStatus(poll.status),
        revealed=poll.revealed,
        epoch=poll.epoch,
        hide_results_until_reveal=bool(poll.settings.get("hide_results_until_reveal", False)),
    )


def poll_public(
    poll: Poll, *, participant_count: int = 0, results: PollResults | None = None
) -> PollPublic:
    """What anyone may see of a poll; `results` only once they are revealed."""
    return PollPublic(
        **poll_view(poll).model_dump(),
        **poll.model_dump(include=_PUBLIC_COLUMNS),
        participant_count=participant_count,
        results=results if poll.revealed else None,
    )


def results_public(poll: Poll, results: PollResults) -> ResultsPublic:
    """The results with the poll they belong to (`GET /api/polls/{room_code}/results`)."""
    return ResultsPublic(
        **results.model_dump(),
        **poll_view(poll).model_dump(include=_RESULTS_HEADING),
        poll_id=poll.id,
    )
