"""Writing messages into the outbox, in the same transaction as the change they announce."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    AuditBatch,
    AuditEvent,
    Contract,
    PollEvent,
    PollStateChanged,
    envelope_headers,
)
from contracts.polls import ClosedBy, PollEventName, PollView
from contracts.topology import (
    AUDIT_EXCHANGE,
    LIVE_EXCHANGE,
    POLLS_EXCHANGE,
    audit_routing_key,
    poll_event_routing_key,
    state_routing_key,
)
from poll_api.models import OutboxMessage
from zephyr_runtime.tracing import current_trace_headers

SERVICE_NAME = "poll-api"
NOTIFY_CHANNEL = "zephyr_outbox"
# Event ids derive from what happened, so the same change always carries the same ids.
EVENT_NAMESPACE = uuid.UUID("6c0f8a57-4f59-4b8e-9a43-3c1d7f2b6e10")


def outbox_row(
    message: Contract,
    *,
    exchange: str,
    routing_key: str,
    correlation_id: str,
    occurred_at: datetime,
) -> OutboxMessage:
    return OutboxMessage(
        message_id=uuid.uuid4(),
        exchange=exchange,
        routing_key=routing_key,
        message_type=message.message_type(),
        body=message.model_dump(mode="json"),
        # The request's trace context travels with the message (the relay publishes it as is).
        headers=envelope_headers(
            message,
            correlation_id=correlation_id,
            occurred_at=occurred_at,
            trace_headers=current_trace_headers(),
        ),
        created_at=occurred_at,
    )


def audit_row(
    *,
    kind: str,
    occurred_at: datetime,
    correlation_id: str,
    client_ip: str | None,
    poll_id: uuid.UUID | None,
    data: dict[str, Any],
    event_id: uuid.UUID | None = None,
) -> OutboxMessage:
    event = AuditEvent(
        event_id=event_id or uuid.uuid4(),
        kind=kind,
        service=SERVICE_NAME,
        occurred_at=occurred_at,
        poll_id=poll_id,
        correlation_id=correlation_id,
        client_ip=client_ip,
        data=data,
    )
    return outbox_row(
        AuditBatch(events=[event]),
        exchange=AUDIT_EXCHANGE,
        routing_key=audit_routing_key(SERVICE_NAME),
        correlation_id=correlation_id,
        occurred_at=occurred_at,
    )


# The audit kind of each event: a poll is created; everything else happens to a question.
AUDIT_KIND_OF: dict[PollEventName, str] = {
    "created": "poll.created",
    "shown": "question.shown",
    "opened": "question.opened",
    "closed": "question.closed",
    "revealed": "question.revealed",
    "reset": "question.reset",
    "question_added": "question.added",
    "question_edited": "question.edited",
    "question_deleted": "question.deleted",
    "question_moved": "question.moved",
    "deleted": "poll.deleted",
}


def _audit_data(
    view: PollView, state_version: int, qid: int | None, closed_by: ClosedBy | None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "state_version": state_version,
        "current": view.current,
        "questions": len(view.questions),
    }
    question = view.by_qid(qid) if qid is not None else view.current_question
    if question is not None:
        data.update(
            qid=question.qid,
            index=question.index,
            kind=question.kind,
            status=question.status.value,
            revealed=question.revealed,
            epoch=question.epoch,
        )
        if question.closes_at is not None:
            data["closes_at"] = question.closes_at.isoformat()
    elif qid is not None:  # deleted
        data["qid"] = qid
    if closed_by is not None:
        data["closed_by"] = closed_by
    return data


def poll_change_rows(
    view: PollView,
    *,
    event: PollEventName,
    state_version: int,
    occurred_at: datetime,
    correlation_id: str,
    client_ip: str | None,
    qid: int | None = None,
    closed_by: ClosedBy | None = None,
) -> list[OutboxMessage]:
    """The three messages of one change: live state, event and audit, relayed in that order.

    The state goes first: the relay writes it to Redis and the gateways apply it before
    vote-worker even receives the event and publishes the tally it causes. The other way
    round, the zero tally of an opening quiz question could reach a gateway that still held
    the question as not open, and go to the screens (invariant 6: counts of an open quiz).
    """
    change_key = f"{view.id}:{event}:{state_version}"
    poll_event = PollEvent(
        event_id=uuid.uuid5(EVENT_NAMESPACE, f"event:{change_key}"),
        event=event,
        poll=view,
        state_version=state_version,
        occurred_at=occurred_at,
        qid=qid,
        closed_by=closed_by,
    )
    state = PollStateChanged(poll=view, state_version=state_version, qid=qid)
    return [
        outbox_row(
            state,
            exchange=LIVE_EXCHANGE,
            routing_key=state_routing_key(view.id),
            correlation_id=correlation_id,
            occurred_at=occurred_at,
        ),
        outbox_row(
            poll_event,
            exchange=POLLS_EXCHANGE,
            routing_key=poll_event_routing_key(event),
            correlation_id=correlation_id,
            occurred_at=occurred_at,
        ),
        audit_row(
            kind=AUDIT_KIND_OF[event],
            occurred_at=occurred_at,
            correlation_id=correlation_id,
            client_ip=client_ip,
            poll_id=view.id,
            event_id=uuid.uuid5(EVENT_NAMESPACE, f"audit:{change_key}"),
            data=_audit_data(view, state_version, qid, closed_by),
        ),
    ]


async def enqueue(session: AsyncSession, rows: list[OutboxMessage]) -> None:
    """Add rows and wake the relays (NOTIFY is delivered only when the transaction commits)."""
    session.add_all(rows)
    await session.exec(select(func.pg_notify(NOTIFY_CHANNEL, "")))
