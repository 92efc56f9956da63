"""The audit events vote-worker emits. Event ids are uuid5 of what the event is about (a vote, a
message, a dead-letter growth), so a redelivered batch or a second replica sends the same ids
and audit-sink stores each event once."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from contracts import AuditBatch, AuditEvent, Vote, utcnow
from contracts.audit import MAX_EVENTS_PER_BATCH
from contracts.ids import uuid5
from vote_worker.record import RecordResult, RejectedVote
from vote_worker.settings import SERVICE_NAME

_URL_NAMESPACE = uuid.NAMESPACE_URL.bytes


def event_id(kind: str, subject: uuid.UUID | str) -> uuid.UUID:
    return uuid5(_URL_NAMESPACE, f"zephyr:{kind}:{subject}")


def _event(
    kind: str,
    subject: UUID | str,
    data: dict[str, Any],
    correlation_id: str,
    *,
    at: datetime | None = None,
    vote: Vote | None = None,
    poll_id: UUID | None = None,
) -> AuditEvent:
    return AuditEvent(
        event_id=event_id(kind, subject),
        kind=kind,
        service=SERVICE_NAME,
        occurred_at=at or utcnow(),
        poll_id=vote.poll_id if vote else poll_id,
        participant_id=vote.participant_id if vote else None,
        correlation_id=correlation_id[:128],
        data=data,
    )


def vote_events(result: RecordResult, correlation_id: str) -> list[AuditEvent]:
    """`vote.recorded` per valid vote (new or already stored, with its question and normalised
    answer), `vote.rejected` per rejected one (with the rule an invalid answer broke)."""
    at = utcnow()
    correlation_id = correlation_id[:128]
    # One per vote: built without validation (every field comes from a validated Vote and
    # the constants here), which costs a third of what AuditEvent(...) does.
    construct = AuditEvent.model_construct
    events = [
        construct(
            event_id=event_id("vote.recorded", vote.vote_id),
            kind="vote.recorded",
            service=SERVICE_NAME,
            occurred_at=at,
            poll_id=vote.poll_id,
            participant_id=vote.participant_id,
            correlation_id=correlation_id,
            client_ip=None,
            data={
                "vote_id": str(vote.vote_id),
                "qid": vote.qid,
                "answer": vote.answer.model_dump(),
                "option": vote.option,
                "seq": vote.seq,
                "epoch": vote.epoch,
            },
        )
        for vote in result.valid
    ]
    events.extend(
        _event(
            "vote.rejected",
            rejected.vote.vote_id,
            _rejection(rejected),
            correlation_id,
            at=at,
            vote=rejected.vote,
        )
        for rejected in result.rejected
    )
    return events


def _rejection(rejected: RejectedVote) -> dict[str, Any]:
    data: dict[str, Any] = {
        "vote_id": str(rejected.vote.vote_id),
        "qid": rejected.vote.qid,
        "reason": rejected.reason,
    }
    if rejected.rule is not None:
        data["rule"] = rejected.rule
    return data


def quiz_scored_event(
    poll_id: UUID, qid: int | None, version: int, participants: int, correlation_id: str
) -> AuditEvent:
    """A poll's quiz scores were recomputed and stored at `version` (`qid` scored last; None
    once no quiz question is closed any more)."""
    data = {"qid": qid, "version": version, "participants": participants}
    return _event("quiz.scored", f"{poll_id}:{version}", data, correlation_id, poll_id=poll_id)


def poison_event(reason: str, message_id: str, correlation_id: str) -> AuditEvent:
    """A votes message that is not a valid VoteBatch: it goes to the dead-letter queue."""
    data = {"reason": reason[:500], "message_id": message_id}
    return _event("vote.poison", message_id, data, correlation_id)


def dead_letter_event(queue: str, depth: int, previous: int) -> AuditEvent:
    """A dead-letter queue grew from `previous` to `depth` messages."""
    # The id is stable per queue, depth and minute: two replicas sampling the same growth store
    # one event (audit_log's event_id is unique).
    minute = int(time.time() // 60)
    data = {"queue": queue, "depth": depth, "new": depth - previous}
    return _event("deadletter.detected", f"{queue}:{depth}:{minute}", data, uuid.uuid4().hex)


def batches(events: Sequence[AuditEvent]) -> Iterator[AuditBatch]:
    for start in range(0, len(events), MAX_EVENTS_PER_BATCH):
        # The events are AuditEvent models already (validated, or built from validated data).
        yield AuditBatch.model_construct(events=list(events[start : start + MAX_EVENTS_PER_BATCH]))
