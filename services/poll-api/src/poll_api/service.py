"""What the routes do: create polls, run host changes, check host tokens, read polls.

Each change commits `polls`, `questions` and its outbox rows in one transaction, then writes the
new state to Redis before the caller answers: that write is what makes closing exact for the
gateway.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi.exceptions import RequestValidationError
from redis.exceptions import RedisError
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import utcnow
from contracts.polls import PollView
from contracts.questions import Question as QuestionSpec
from contracts.questions import from_shorthand
from poll_api import crud, host_links, host_tokens, outbox
from poll_api.changes import Changes
from poll_api.context import AppContext
from poll_api.crud import TallyRow
from poll_api.errors import HostAuthFailed
from poll_api.metrics import POLL_TRANSITIONS, POLLS_CREATED, STATE_CACHE_WRITE_FAILURES
from poll_api.models import Poll, PollCreate
from poll_api.reads import ReadSession
from poll_api.run import PollRun
from poll_api.views import poll_view

log = logging.getLogger(__name__)

Change = Callable[[Changes], None]
TallyMap = dict[int, TallyRow]


@dataclass(frozen=True)
class Caller:
    """Who is asking: for audit events and message headers."""

    correlation_id: str
    client_ip: str | None
    bearer_token: str | None
    # A valid access token's account (poll_api.accounts), or why the access token was refused.
    account_id: uuid.UUID | None = None
    token_error: str | None = None


def _problem(field: str, message: str, kind: str = "value_error") -> RequestValidationError:
    return RequestValidationError([{"loc": ("body", field), "msg": message, "type": kind}])


def question_specs(data: PollCreate) -> list[QuestionSpec]:
    """The run a creation body stands for: its `questions`, or the shorthand's one question.

    Raises RequestValidationError (a 422 naming the field) for a body of neither or both forms.
    """
    if data.questions is not None:
        for name in ("question", "options", "kind"):
            if getattr(data, name) is not None:
                raise _problem(name, f"give either questions or question and options, not {name}")
        return list(data.questions)
    if data.question is None:
        raise _problem("question", "Field required (or give questions)", "missing")
    if data.options is None:
        raise _problem("options", "Field required with question", "missing")
    if data.title is not None:
        raise _problem("title", "a title goes with questions, not with the shorthand form")
    return [from_shorthand(data.question, data.options)]


async def create_poll(
    ctx: AppContext, session: AsyncSession, data: PollCreate, caller: Caller
) -> tuple[PollRun, str]:
    """Create a poll of draft questions; returns it with the host token (stored only hashed)."""
    return await insert_run(
        ctx,
        session,
        question_specs(data),
        title=data.title,
        settings=data.settings.model_dump(),
        expires_in_days=data.expires_in_days or ctx.settings.default_expiry_days,
        caller=caller,
    )


async def insert_run(
    ctx: AppContext,
    session: AsyncSession,
    specs: list[QuestionSpec],
    *,
    title: str | None,
    settings: dict[str, Any],
    expires_in_days: int,
    caller: Caller,
) -> tuple[PollRun, str]:
    """A new poll of these draft questions, owned by the caller's account if signed in."""
    token = host_tokens.new_host_token()
    now = utcnow()
    async with session.begin():
        run = await crud.insert_poll(
            session,
            specs,
            title=title,
            settings=settings,
            host_token_hash=host_tokens.hash_token(token),
            expires_in_days=expires_in_days,
            now=now,
            owner_id=caller.account_id,
        )
        view = poll_view(run, now)
        await outbox.enqueue(
            session,
            outbox.poll_change_rows(
                view,
                event="created",
                state_version=run.poll.state_version,
                occurred_at=now,
                correlation_id=caller.correlation_id,
                client_ip=caller.client_ip,
            ),
        )
    POLLS_CREATED.inc()
    log.info("poll created", extra={"poll_id": str(run.poll.id), "room_code": run.poll.room_code})
    await ctx.reads.mark_written(run.poll.room_code)
    await write_state(ctx, view, run.poll.state_version)
    return run, token


async def change_poll(
    ctx: AppContext,
    session: AsyncSession,
    room_code: str,
    caller: Caller,
    action: str,
    change: Change,
) -> PollRun:
    """Authorise the host, settle due timers, apply `change` and commit it with its outbox
    rows, then cache the new state.

    Raises PollNotFound, HostAuthFailed (after recording a security.auth_failed audit event;
    checked before anything about the poll's state is told), QuestionNotFound,
    InvalidTransition or RequestValidationError; in every one of those cases nothing changed.
    """
    failure: HostAuthFailed | None = None
    changes: Changes | None = None
    async with session.begin():
        poll = await crud.get_poll(session, room_code, for_update=True)
        try:
            await authorize(session, poll, caller)
        except HostAuthFailed as exc:
            failure = exc
        else:
            run = PollRun(poll, await crud.get_questions(session, poll.id))
            changes = Changes(run, utcnow(), caller.correlation_id, caller.client_ip)
            changes.close_due()
            change(changes)
            await changes.save(session)
            for deleted in changes.deleted:
                await session.delete(deleted)
    if failure is not None:
        await record_auth_failure(session, poll, caller, failure, action=action)
        raise failure
    assert changes is not None
    await ctx.reads.mark_written(room_code)  # its reads now go to the primary for a while
    for event in changes.events:
        POLL_TRANSITIONS.labels(event=event).inc()
    if changes.view is not None:
        log.info(
            "poll changed",
            extra={"poll_id": str(poll.id), "events": changes.events, "action": action},
        )
        await write_state(ctx, changes.view, poll.state_version)
        if ctx.timer is not None and "opened" in changes.events:
            ctx.timer.wake()  # a new deadline may be the next one
    return changes.run


async def host_run(session: AsyncSession, room_code: str, caller: Caller, action: str) -> PollRun:
    """The poll and its questions for its host only (a stranger is refused and audited)."""
    async with session.begin():
        run = await crud.get_run(session, room_code)
    await check_host(session, run.poll, caller, action)
    return run


def authorize_host(poll: Poll, caller: Caller) -> None:
    """The poll's host token, or an access token of the account that owns the poll."""
    if caller.account_id is not None:
        if poll.owner_id != caller.account_id:
            raise HostAuthFailed(403, "this poll does not belong to the signed-in account")
        return
    if caller.token_error is not None:
        raise HostAuthFailed(401, caller.token_error)
    token = caller.bearer_token
    if token is None:
        raise HostAuthFailed(401, "missing or malformed Authorization: Bearer <host_token>")
    if not host_tokens.token_matches(token, poll.host_token_hash):
        raise HostAuthFailed(403, "the host token does not match this poll")


async def authorize(
    session: AsyncSession, poll: Poll, caller: Caller, *, allow_link: bool = True
) -> None:
    """authorize_host, or (with `allow_link`) a live host link of the poll
    (poll_api.host_links), which needs a read: in the session's transaction, or in one of its
    own. Managing the links themselves takes the host token or the owning account."""
    try:
        authorize_host(poll, caller)
    except HostAuthFailed as exc:
        token = caller.bearer_token
        if exc.status_code != 403 or token is None or not host_links.looks_like_link(token):
            raise
        if not allow_link:
            raise HostAuthFailed(
                403, "a host link cannot manage host links: use the host token or the account"
            ) from None
        if session.in_transaction():
            found = await host_links.link_matches(session, poll.id, token)
        else:
            async with session.begin():
                found = await host_links.link_matches(session, poll.id, token)
        if not found:
            raise HostAuthFailed(
                403, "this host link does not control this poll (revoked?)"
            ) from None


async def check_host(
    session: AsyncSession, poll: Poll, caller: Caller, action: str, *, allow_link: bool = True
) -> None:
    """authorize, recording a refusal (raised after it is committed)."""
    try:
        await authorize(session, poll, caller, allow_link=allow_link)
    except HostAuthFailed as exc:
        await record_auth_failure(session, poll, caller, exc, action=action)
        raise


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


async def host_read(
    reads: ReadSession, session: AsyncSession, room_code: str, caller: Caller, action: str
) -> PollRun:
    """host_run, the run read through `reads` (a refusal is recorded on the primary)."""
    run = await reads.run(lambda s: crud.get_run(s, room_code))
    await check_host(session, run.poll, caller, action)
    return run


async def _public_read(session: AsyncSession, room_code: str) -> tuple[PollRun, TallyMap | None]:
    run = await crud.get_run(session, room_code)
    tallies = await crud.read_tallies(session, run.poll.id) if run.current.revealed else None
    return run, tallies


async def public_poll(
    ctx: AppContext, reads: ReadSession, room_code: str
) -> tuple[PollRun, TallyMap | None, int]:
    """The poll, the current question's tallies once revealed, and its participant count;
    refreshes Redis.

    The gateway rebuilds a lost Redis state from this answer, so the replica's copy is used only
    when it is at least as new as the state Redis holds (every change writes Redis after its
    commit); otherwise, or when Redis has no state for the poll, the primary answers.
    """
    run, tallies = await reads.run(lambda s: _public_read(s, room_code))
    if reads.on_replica:
        try:
            cached = (await ctx.state_cache.cached_versions([run.poll.id]))[0]
        except (RedisError, OSError):
            cached = None
        if cached is None or cached > run.poll.state_version:
            run, tallies = await reads.on_primary(lambda s: _public_read(s, room_code), "stale")
    try:
        participants = await ctx.state_cache.write_and_count(
            poll_view(run, utcnow()), run.poll.state_version
        )
    except (RedisError, OSError) as exc:
        STATE_CACHE_WRITE_FAILURES.inc()
        log.warning("Redis unavailable for the read-through", extra={"error": repr(exc)})
        participants = 0
    return run, tallies, participants
