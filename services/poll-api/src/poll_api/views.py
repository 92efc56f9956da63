"""Turning a `polls` row into what others see: the contract view and the public API view."""

from __future__ import annotations

from contracts.polls import PollStatus, PollView
from poll_api.models import Poll, PollPublic, PollResults


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
    view = poll_view(poll)
    return PollPublic(
        id=poll.id,
        room_code=poll.room_code,
        question=poll.question,
        options=view.options,
        kind=poll.kind,
        status=view.status,
        revealed=poll.revealed,
        epoch=poll.epoch,
        hide_results_until_reveal=view.hide_results_until_reveal,
        state_version=poll.state_version,
        participant_count=participant_count,
        created_at=poll.created_at,
        opened_at=poll.opened_at,
        closed_at=poll.closed_at,
        expires_at=poll.expires_at,
        results=results if poll.revealed else None,
    )
