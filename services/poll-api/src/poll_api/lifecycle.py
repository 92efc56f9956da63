"""The poll state machine: which host action is allowed in which state, and what it changes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from contracts.polls import PollEventName, PollStatus
from poll_api.errors import InvalidTransition
from poll_api.models import Poll

HostAction = Literal["open", "close", "reveal", "reset"]

_EVENT_OF: dict[HostAction, PollEventName] = {
    "open": "opened",
    "close": "closed",
    "reveal": "revealed",
    "reset": "reset",
}


def apply_action(poll: Poll, action: HostAction, now: datetime) -> PollEventName:
    """Change `poll` in place for `action`, bump its state version; return the event name.

    Raises InvalidTransition (nothing changed) when the action is not allowed, including when
    it would repeat itself (opening an open poll, revealing a revealed one).
    """
    status = PollStatus(poll.status)
    if action == "open":
        if status == PollStatus.OPEN:
            raise InvalidTransition("the poll is already open")
        poll.status = PollStatus.OPEN.value
        poll.opened_at = now
        poll.closed_at = None
    elif action == "close":
        if status != PollStatus.OPEN:
            raise InvalidTransition(f"only an open poll can be closed (it is {status.value})")
        poll.status = PollStatus.CLOSED.value
        poll.closed_at = now
    elif action == "reveal":
        if poll.revealed:
            raise InvalidTransition("the results are already revealed")
        poll.revealed = True
        poll.revealed_at = now
    elif action == "reset":
        if status == PollStatus.DRAFT and not poll.revealed:
            raise InvalidTransition("the poll is already in its initial draft state")
        poll.status = PollStatus.DRAFT.value
        poll.revealed = False
        poll.revealed_at = None
        poll.opened_at = None
        poll.closed_at = None
        # Votes carry their epoch: bumping it makes every earlier vote stale for the worker.
        poll.epoch += 1
    else:  # pragma: no cover - guarded by the HostAction type and the routes
        raise InvalidTransition(f"unknown action {action!r}")
    poll.state_version += 1
    poll.updated_at = now
    return _EVENT_OF[action]
