"""The audit events vote-worker emits. Event ids are uuid5 of the vote or message id, so a
redelivered batch re-sends the same ids and audit-sink stores each event once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from contracts import AuditBatch, AuditEvent, Vote, utcnow
from contracts.audit import MAX_EVENTS_PER_BATCH
from vote_worker.record import RecordResult
from vote_worker.settings import SERVICE_NAME


def event_id(kind: str, subject: uuid.UUID | str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"zephyr:{kind}:{subject}")


def _vote_event(
    kind: str, vote: Vote, data: dict[str, Any], correlation_id: str, at: datetime
) -> AuditEvent:
    return AuditEvent(
        event_id=event_id(kind, vote.vote_id),
        kind=kind,
        service=SERVICE_NAME,
        occurred_at=at,
        poll_id=vote.poll_id,
        participant_id=vote.participant_id,
        correlation_id=correlation_id[:128],
        data=data,
    )


def vote_events(result: RecordResult, correlation_id: str) -> list[AuditEvent]:
    """`vote.recorded` per valid vote (new or already stored), `vote.rejected` per rejected one."""
    at = utcnow()
    events = [
        _vote_event(
            "vote.recorded",
            vote,
            {
                "vote_id": str(vote.vote_id),
                "option": vote.option,
                "seq": vote.seq,
                "epoch": vote.epoch,
            },
            correlation_id,
            at,
        )
        for vote in result.valid
    ]
    events.extend(
        _vote_event(
            "vote.rejected",
            rejected.vote,
            {"vote_id": str(rejected.vote.vote_id), "reason": rejected.reason},
            correlation_id,
            at,
        )
        for rejected in result.rejected
    )
    return events


def poison_event(reason: str, message_id: str, correlation_id: str) -> AuditEvent:
    """A votes message that is not a valid VoteBatch: it goes to the dead-letter queue."""
    return AuditEvent(
        event_id=event_id("vote.poison", message_id),
        kind="vote.poison",
        service=SERVICE_NAME,
        occurred_at=utcnow(),
        correlation_id=correlation_id[:128],
        data={"reason": reason[:500], "message_id": message_id},
    )


def batches(events: Sequence[AuditEvent]) -> Iterator[AuditBatch]:
    for start in range(0, len(events), MAX_EVENTS_PER_BATCH):
        yield AuditBatch(events=list(events[start : start + MAX_EVENTS_PER_BATCH]))
