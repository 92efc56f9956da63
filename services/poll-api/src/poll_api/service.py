"""What the routes do: create polls, run host actions, check host tokens, gather results.

Each change commits `polls` and its outbox rows in one transaction, then writes the new state to
Redis before the caller answers: that write is what makes closing exact for the gateway.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from redis.exceptions import RedisError
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import utcnow
from contracts.polls import PollView
from poll_api import crud, host_tokens, outbox
from poll_api.context import AppContext
from poll_api.errors import HostAuthFailed
from poll_api.lifecycle import HostAction, apply_action
from poll_api.metrics import POLL_TRANSITIONS, POLLS_CREATED, STATE_CACHE_WRITE_FAILURES
from poll_api.models import Poll, PollCreate, PollResults
from poll_api.results import build_results
from poll_api.views import poll_view

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    """Who is asking: for audit events and message headers."""

    correlation_id: str
    client_ip: str | None
    bearer_token: str | None


async def create_poll(
    ctx: AppContext, session: AsyncSession, data: PollCreate, caller: Caller
) -> tuple[Poll, str]:
    """Create a draft poll; returns it with the host token (which is stored only hashed)."""
    token = host_tokens.new_host_token()
    now = utcnow()
    async with session.begin():
        poll = await crud.insert_poll(
            session,
            data,
            host_token_hash=host_tokens.hash_token(token),
            expires_in_days=data.expires_in_days or ctx.settings.default_expiry_days,
            now=now,
        )
        view = poll_view(poll)
        await outbox.enqueue(
            session,
            outbox.poll_change_rows(
                view,
                event="created",
                state_version=poll.state_version,
                occurred_at=now,
                correlation_id=caller.correlation_id,
                client_ip=caller.client_ip,
            ),
        )
    POLLS_CREATED.inc()
    log.info("poll created", extra={"poll_id": str(poll.id), "room_code": poll.room_code})
    await write_state(ctx, view, poll.state_version)
    return poll, token


async def run_host_action(
    ctx: AppContext, session: AsyncSession, room_code: str, action: HostAction, caller: Caller
) -> Poll:
    """Authorise the host, apply `action` and commit it with its outbox rows, then cache it.

    Raises PollNotFound, HostAuthFailed (after recording a security.auth_failed audit event)
    or InvalidTransition; in every one of those cases nothing has changed.
    """
    failure: HostAuthFailed | None = None
    async with session.begin():
        poll = await crud.get_poll(session, room_code, for_update=True)
        try:
            authorize_host(poll, caller.bearer_token)
        except HostAuthFailed as exc:
            failure = exc
        else:
            now = utcnow()
            event = apply_action(poll, action, now)
            view = poll_view(poll)
            session.add(poll)
            await outbox.enqueue(
                session,
                outbox.poll_change_rows(
                    view,
                    event=event,
                    state_version=poll.state_version,
                    occurred_at=now,
                    correlation_id=caller.correlation_id,
                    client_ip=caller.client_ip,
                ),
            )
    if failure is not None:
        await record_auth_failure(session, poll, caller, failure, action=action)
        raise failure
    POLL_TRANSITIONS.labels(event=event).inc()
    log.info("poll %s", event, extra={"poll_id": str(poll.id), "room_code": poll.room_code})
    await write_state(ctx, view, poll.state_version)
    return poll


def authorize_host(poll: Poll, token: str | None) -> None:
    if token is None:
        raise HostAuthFailed(401, "missing or malformed Authorization: Bearer <host_token>")
    if not host_tokens.token_matches(token, poll.host_token_hash):
        raise HostAuthFailed(403, "the host token does not match this poll")


async def record_auth_failure(
    session: AsyncSession, poll: Poll, caller: Caller, failure: HostAuthFailed, *, action: str
) -> None:
    """A `security.auth_failed` audit event, committed in its own transaction."""
    async with session.begin():
        await outbox.enqueue(
            session,
            [
                outbox.audit_row(
                    kind="security.auth_failed",
                    occurred_at=utcnow(),
                    correlation_id=caller.correlation_id,
                    client_ip=caller.client_ip,
                    poll_id=poll.id,
                    data={
                        "action": action,
                        "status_code": failure.status_code,
                        "reason": "missing_token" if failure.status_code == 401 else "wrong_token",
                    },
                )
            ],
        )


async def write_state(ctx: AppContext, view: PollView, state_version: int) -> None:
    """Best effort: with Redis down the answer still succeeds; relay and reconciler catch up."""
    try:
        await ctx.state_cache.write(view, state_version)
    except (RedisError, OSError) as exc:
        STATE_CACHE_WRITE_FAILURES.inc()
        log.warning("could not write poll state to Redis", extra={"error": repr(exc)})


async def public_poll(
    ctx: AppContext, session: AsyncSession, room_code: str
) -> tuple[Poll, int, PollResults | None]:
    """The poll, its participant count and (once revealed) its results; refreshes Redis."""
    async with session.begin():
        poll = await crud.get_poll(session, room_code)
        results = None
        if poll.revealed:
            tally = await crud.read_tally(session, poll.id)
            results = build_results(list(poll.options), poll.epoch, tally)
    try:
        participants = await ctx.state_cache.write_and_count(poll_view(poll), poll.state_version)
    except (RedisError, OSError) as exc:
        STATE_CACHE_WRITE_FAILURES.inc()
        log.warning("Redis unavailable for the read-through", extra={"error": repr(exc)})
        participants = 0
    return poll, participants, results


async def poll_results(
    session: AsyncSession, room_code: str, caller: Caller
) -> tuple[Poll, PollResults]:
    """Results for the host, or for anyone once revealed (else HostAuthFailed, audited)."""
    async with session.begin():
        poll = await crud.get_poll(session, room_code)
        tally = await crud.read_tally(session, poll.id)
    if not poll.revealed:
        try:
            authorize_host(poll, caller.bearer_token)
        except HostAuthFailed as exc:
            await record_auth_failure(session, poll, caller, exc, action="results")
            raise
    return poll, build_results(list(poll.options), poll.epoch, tally)
