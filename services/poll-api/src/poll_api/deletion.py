"""Deleting a poll, and duplicating one: host actions on the whole poll.

Deleting removes the poll's rows in every service that owns a table: poll-api deletes `polls`
(its `questions` cascade) and, in the same transaction, puts a `deleted` PollEvent in the
outbox; vote-worker deletes the poll's participants, ballots, votes, tallies and quiz rows when
it consumes it, audit-sink deletes the poll's audit events when it stores the deletion record.
The poll's other outbox rows are deleted in that transaction too. That record,
`poll.deleted`, names no poll (`poll_id` null, the id in `data.deleted_poll_id`),
so it is the one audit event of the poll that stays. Stragglers (a vote in flight during the
delete) are removed by each service's retention job, which deletes rows of polls that no
longer exist. The Redis keys of the poll go at once, so the gateways stop accepting answers.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import utcnow
from contracts.questions import parse_stored_question
from poll_api import crud, outbox
from poll_api.context import AppContext
from poll_api.errors import HostAuthFailed
from poll_api.retention import RESURRECT_WINDOW_S, forget_cached
from poll_api.run import PollRun
from poll_api.service import Caller, authorize, check_host, insert_run, record_auth_failure
from poll_api.views import poll_view

log = logging.getLogger(__name__)

_DELETE_OUTBOX_ROWS = text(
    "DELETE FROM outbox WHERE body->'poll'->>'id' = :id OR body->'events'->0->>'poll_id' = :id"
)


async def delete_poll(
    ctx: AppContext, session: AsyncSession, room_code: str, caller: Caller
) -> uuid.UUID:
    """Delete the poll for its host (a refusal is audited); returns its id."""
    failure: HostAuthFailed | None = None
    async with session.begin():
        poll = await crud.get_poll(session, room_code, for_update=True)
        try:
            await authorize(session, poll, caller)
        except HostAuthFailed as exc:
            failure = exc
        else:
            run = PollRun(poll, await crud.get_questions(session, poll.id))
            now = utcnow()
            rows = outbox.poll_change_rows(
                poll_view(run, now),
                event="deleted",
                state_version=poll.state_version + 1,
                occurred_at=now,
                correlation_id=caller.correlation_id,
                client_ip=caller.client_ip,
            )
            record = outbox.audit_row(
                kind="poll.deleted",
                occurred_at=now,
                correlation_id=caller.correlation_id,
                client_ip=caller.client_ip,
                poll_id=None,  # the one record of the poll that its deletion keeps
                data={
                    "deleted_poll_id": str(poll.id),
                    "room_code": poll.room_code,
                    "questions": len(run.questions),
                    "by_account": str(caller.account_id) if caller.account_id else None,
                },
            )
            connection = await session.connection()
            # The poll's messages still in the outbox, sent or not, go with it: what they tell
            # (its events, its audit) is deleted everywhere anyway.
            await connection.execute(_DELETE_OUTBOX_ROWS, {"id": str(poll.id)})
            await outbox.enqueue(session, [*rows[:-1], record])  # its own audit row instead
            await connection.execute(text("DELETE FROM polls WHERE id = :id"), {"id": poll.id})
            next_qid = poll.next_qid
    if failure is not None:
        await record_auth_failure(session, poll, caller, failure, action="delete")
        raise failure
    await ctx.reads.mark_written(room_code)
    cached = [(poll.id, poll.room_code, next_qid)]
    await _forget(ctx, cached)
    # Again a moment later: a reconciler or relay pass that read the poll just before it was
    # deleted may write its state back meanwhile, and nothing would remove it after that.
    task = asyncio.create_task(_forget(ctx, cached, after=RESURRECT_WINDOW_S))
    _LATER.add(task)
    task.add_done_callback(_LATER.discard)
    log.info("poll deleted", extra={"poll_id": str(poll.id), "room_code": room_code})
    return poll.id


_LATER: set[asyncio.Task[None]] = set()


async def _forget(
    ctx: AppContext, cached: list[tuple[uuid.UUID, str, int]], after: float = 0
) -> None:
    if after:
        await asyncio.sleep(after)
    try:
        await forget_cached(ctx.redis, ctx.keys, cached)
    except Exception as exc:  # a cache: the key costs memory only; retention cannot see it
        log.warning("could not remove a deleted poll's Redis keys", extra={"error": repr(exc)})


async def duplicate_poll(
    ctx: AppContext, session: AsyncSession, room_code: str, caller: Caller
) -> tuple[PollRun, str]:
    """A new draft poll with the same title, settings and questions (no answers), for the
    host of the original; it belongs to the caller's account when signed in."""
    async with session.begin():
        run = await crud.get_run(session, room_code)
    await check_host(session, run.poll, caller, "duplicate")
    specs = [parse_stored_question(q.spec) for q in run.questions]
    return await insert_run(
        ctx,
        session,
        specs,
        title=run.poll.title,
        settings=dict(run.poll.settings),
        expires_in_days=ctx.settings.default_expiry_days,
        caller=caller,
    )
