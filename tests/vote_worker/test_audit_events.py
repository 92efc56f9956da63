"""The audit events of a vote batch, built without validation, are what validation would give."""

from __future__ import annotations

import uuid

from contracts import AuditBatch, AuditEvent
from contracts.audit import MAX_EVENTS_PER_BATCH
from tests.vote_worker.factories import vote
from vote_worker.audit import batches, event_id, vote_events
from vote_worker.record import RecordResult


def test_vote_events_equal_validated_events_and_encode_as_the_contract() -> None:
    poll_id = uuid.uuid4()
    votes = [vote(poll_id, uuid.uuid4(), i % 3, i + 1) for i in range(MAX_EVENTS_PER_BATCH + 5)]
    events = vote_events(RecordResult(valid=votes), "c" * 200)
    assert len(events) == len(votes)
    for made, cast in zip(events, votes, strict=True):
        assert AuditEvent.model_validate(made.model_dump()) == made
        assert made.event_id == uuid.uuid5(
            uuid.NAMESPACE_URL, f"zephyr:vote.recorded:{cast.vote_id}"
        )
        assert made.event_id == event_id("vote.recorded", cast.vote_id)
        assert made.correlation_id == "c" * 128 and made.poll_id == poll_id
        assert made.data["vote_id"] == str(cast.vote_id) and made.data["option"] == cast.option
    sent = list(batches(events))
    assert [len(b.events) for b in sent] == [MAX_EVENTS_PER_BATCH, 5]
    for batch in sent:
        # What goes on the wire is a valid AuditBatch, equal to the one built.
        assert AuditBatch.model_validate_json(batch.model_dump_json()) == batch
