"""Behaviour of the contract models that the services rely on."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from contracts import AuditBatch, AuditEvent, Vote, VoteBatch, envelope_headers
from contracts.frames import CLIENT_FRAME_ADAPTER, JoinFrame, VoteFrame, normalize_nickname
from contracts.topology import durable_queues, poll_binding_key, tally_routing_key


def _vote(**over: object) -> Vote:
    data: dict[str, object] = {
        "vote_id": uuid.uuid4(),
        "poll_id": uuid.uuid4(),
        "participant_id": uuid.uuid4(),
        "option": 1,
        "seq": 5,
        "epoch": 0,
        "cast_at": datetime.now(UTC),
    }
    data.update(over)
    return Vote.model_validate(data)


def test_vote_batch_round_trips_through_json() -> None:
    batch = VoteBatch(batch_id=uuid.uuid4(), gateway_id="gw-1", votes=[_vote(), _vote(option=0)])
    again = VoteBatch.model_validate_json(batch.model_dump_json())
    assert again == batch
    assert VoteBatch.message_type() == "zephyr.vote_batch.v2"


@pytest.mark.parametrize("bad", [{"option": -1}, {"option": 20}, {"seq": -3}, {"extra": 1}])
def test_vote_refuses_out_of_range_and_unknown_fields(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        _vote(**bad)


def test_empty_batches_are_refused() -> None:
    with pytest.raises(ValidationError):
        VoteBatch(batch_id=uuid.uuid4(), gateway_id="gw", votes=[])
    with pytest.raises(ValidationError):
        AuditBatch(events=[])


def test_audit_kind_must_be_dotted_lowercase() -> None:
    base = {"event_id": uuid.uuid4(), "service": "x", "occurred_at": datetime.now(UTC)}
    AuditEvent.model_validate({**base, "kind": "vote.recorded"})
    with pytest.raises(ValidationError):
        AuditEvent.model_validate({**base, "kind": "Vote Recorded"})


def test_envelope_headers_carry_version_correlation_and_trace() -> None:
    batch = VoteBatch(batch_id=uuid.uuid4(), gateway_id="gw", votes=[_vote()])
    headers = envelope_headers(
        batch, correlation_id="abc", trace_headers={"traceparent": "00-1-2-01", "other": "x"}
    )
    assert headers["x-contract-version"] == VoteBatch.VERSION == 2
    assert headers["x-correlation-id"] == "abc"
    assert headers["traceparent"] == "00-1-2-01"
    assert "other" not in headers
    assert datetime.fromisoformat(headers["x-occurred-at"]).tzinfo is not None


def test_client_frames_are_discriminated_by_type() -> None:
    frame = CLIENT_FRAME_ADAPTER.validate_json(b'{"type":"vote","option":2}')
    assert isinstance(frame, VoteFrame)
    assert frame.option == 2
    with pytest.raises(ValidationError):
        CLIENT_FRAME_ADAPTER.validate_json(b'{"type":"vote","option":"2"}')
    with pytest.raises(ValidationError):
        CLIENT_FRAME_ADAPTER.validate_json(b'{"type":"shout"}')


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(" Ann ", "Ann"), ("Ｂｏｂ", "Bob"), ("ﬁsh", "fish"), ("Zoë", "Zoë")],
)
def test_nicknames_are_nfkc_normalised(raw: str, expected: str) -> None:
    assert normalize_nickname(raw) == expected
    assert JoinFrame(type="join", nickname=raw).nickname == expected


@pytest.mark.parametrize("raw", ["", "   ", "a\u200bb", "bell\x07", "x" * 41, "rtl\u202eevil"])
def test_nicknames_refuse_empty_long_and_invisible(raw: str) -> None:
    with pytest.raises(ValueError, match="nickname"):
        normalize_nickname(raw)


def test_topology_dead_letters_every_work_queue_at_least_once() -> None:
    queues = {q.name: q for q in durable_queues(delivery_limit=7)}
    votes = queues["votes"].arguments
    assert votes["x-queue-type"] == "quorum"
    assert votes["x-delivery-limit"] == 7
    assert votes["x-dead-letter-strategy"] == "at-least-once"
    assert votes["x-overflow"] == "reject-publish"
    assert "votes.dead" in queues
    assert queues["audit.stream"].arguments["x-queue-type"] == "stream"
    pid = uuid.uuid4()
    assert tally_routing_key(pid).startswith(poll_binding_key(pid)[:-1])
