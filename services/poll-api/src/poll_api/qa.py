"""The Q&A board for its host: reading vote-worker's `qa_items`, queueing moderation.

poll-api never writes the board (vote-worker owns `qa_items`, docs/qa.md): a host action is a
`QaModerate` written to the outbox in the transaction that checked the host and the item, so it
reaches the `qa` queue even if poll-api dies right after answering. Its `seq` is Postgres's
clock in microseconds: per item the latest action wins, whatever order the relay and the worker
see them in.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import text
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import QaActions, utcnow
from contracts.qa import QaModerate, QaModeration, QaStatus, board_order
from contracts.topology import QA_QUEUE
from poll_api import outbox
from poll_api.models import Poll

_ITEMS = text(
    """
    SELECT item_id, text, score, status, pinned, asked_at FROM qa_items
    WHERE poll_id = :poll_id
    """
)
_VERSION = text("SELECT version FROM qa_boards WHERE poll_id = :poll_id")
_ITEM = text("SELECT status, pinned FROM qa_items WHERE poll_id = :poll_id AND item_id = :item_id")
_CLOCK_US = text("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint")

HostVerb = Literal["approve", "hide", "pin", "answered"]
AUDIT_KIND: dict[str, str] = {
    "approve": "qa.approved",
    "hide": "qa.hidden",
    "answered": "qa.answered",
    "pin": "qa.pinned",
    "unpin": "qa.unpinned",
}


class QaItemHost(SQLModel):
    id: uuid.UUID
    text: str
    score: int
    status: QaStatus
    pinned: bool
    asked_at: datetime


class QaBoardHost(SQLModel):
    """`GET /api/polls/{room_code}/qa`: every item, in board order (pinned, score, age)."""

    enabled: bool
    moderated: bool
    version: int
    pending: int
    items: list[QaItemHost]


class PinBody(SQLModel):
    pinned: bool | None = None


class ModerationQueued(SQLModel):
    """A moderation is queued for vote-worker: the board shows it within moments."""

    item: uuid.UUID
    moderation: QaModeration


class ItemNotFound(Exception):
    pass


def qa_settings(poll: Poll) -> tuple[bool, bool]:
    settings: dict[str, Any] = poll.settings or {}
    return bool(settings.get("qa_enabled")), bool(settings.get("qa_moderated"))


async def read_board(session: AsyncSession, poll: Poll) -> QaBoardHost:
    connection = await session.connection()
    rows = (await connection.execute(_ITEMS, {"poll_id": poll.id})).all()
    version = (await connection.execute(_VERSION, {"poll_id": poll.id})).scalar()
    items = board_order(
        QaItemHost(
            id=r.item_id,
            text=r.text,
            score=r.score,
            status=r.status,
            pinned=r.pinned,
            asked_at=r.asked_at,
        )
        for r in rows
    )
    enabled, moderated = qa_settings(poll)
    return QaBoardHost(
        enabled=enabled,
        moderated=moderated,
        version=int(version or 0),
        pending=sum(1 for i in items if i.status == "pending"),
        items=items,
    )


async def queue_moderation(
    session: AsyncSession,
    poll: Poll,
    item_id: uuid.UUID,
    verb: HostVerb,
    pinned: bool | None,
    *,
    correlation_id: str,
    client_ip: str | None,
) -> QaModeration:
    """Check the item is the poll's, then write the action and its audit event to the outbox
    (in the caller's transaction). `pin` without `pinned` toggles the item's pin."""
    connection = await session.connection()
    row = (await connection.execute(_ITEM, {"poll_id": poll.id, "item_id": item_id})).first()
    if row is None:
        raise ItemNotFound(str(item_id))
    moderation: QaModeration
    if verb == "pin":
        moderation = "pin" if (pinned if pinned is not None else not row.pinned) else "unpin"
    else:
        moderation = verb
    seq = int((await connection.execute(_CLOCK_US)).scalar_one())
    now = utcnow()
    action = QaModerate(
        action_id=uuid.uuid4(),
        poll_id=poll.id,
        item_id=item_id,
        seq=seq,
        occurred_at=now,
        moderation=moderation,
    )
    await outbox.enqueue(
        session,
        [
            outbox.outbox_row(
                QaActions(actions=[action]),
                exchange="",
                routing_key=QA_QUEUE,
                correlation_id=correlation_id,
                occurred_at=now,
            ),
            outbox.audit_row(
                kind=AUDIT_KIND[moderation],
                occurred_at=now,
                correlation_id=correlation_id,
                client_ip=client_ip,
                poll_id=poll.id,
                event_id=action.action_id,
                data={"item_id": str(item_id), "seq": seq, "previous_status": row.status},
            ),
        ],
    )
    return moderation
