"""Parsing a message body into audit_log rows (pure logic)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from audit_sink.rows import InvalidMessage, parse_message
from contracts import AuditBatch
from tests.audit_sink.conftest import batch_body, make_event


def test_valid_batch_becomes_rows_in_order() -> None:
    events = [make_event(uuid.uuid4()), make_event(None, data={})]
    rows = parse_message(batch_body(events), AuditBatch.message_type())
    assert [row.event_id for row in rows] == [e.event_id for e in events]
    first = rows[0]
    assert first.kind == events[0].kind
    assert first.poll_id == events[0].poll_id
    assert first.occurred_at == events[0].occurred_at
    assert json.loads(first.data) == events[0].data
    assert rows[1].poll_id is None
    assert rows[1].data == "{}"


def test_missing_type_property_is_accepted() -> None:
    assert len(parse_message(batch_body([make_event(None)]), None)) == 1


def test_naive_time_is_taken_as_utc() -> None:
    event = make_event(None)
    raw = json.loads(AuditBatch(events=[event]).model_dump_json())
    raw["events"][0]["occurred_at"] = "2026-05-01T10:00:00"
    (row,) = parse_message(json.dumps(raw).encode())
    assert row.occurred_at == datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b"null",
        b'{"events": []}',
        b'{"events": [{}]}',
        b'{"events": [], "extra": 1}',
    ],
)
def test_invalid_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(InvalidMessage):
        parse_message(body)


def test_another_contract_type_is_refused() -> None:
    with pytest.raises(InvalidMessage, match="unexpected message type"):
        parse_message(batch_body([make_event(None)]), "zephyr.vote_batch.v1")


@pytest.mark.parametrize(
    "overrides",
    [
        {"data": {"text": "a\x00b"}},
        {"data": {"key\x00": 1}},
        {"data": {"list": [["deep\x00"]]}},
        {"correlation_id": "abc\x00"},
        {"client_ip": "\x00"},
        {"service": "svc\x00"},
        {"data": {"text": "\ud800"}},
        {"data": {"n": float("nan")}},
        {"data": {"n": float("inf")}},
    ],
    ids=[
        "nul-in-data",
        "nul-in-key",
        "nul-deep",
        "nul-correlation",
        "nul-ip",
        "nul-service",
        "lone-surrogate",
        "nan",
        "infinity",
    ],
)
def test_values_postgres_refuses_are_refused_up_front(overrides: dict[str, object]) -> None:
    raw = make_event(uuid.uuid4()).model_dump(mode="json")
    raw.update(overrides)  # after serialising: pydantic would turn NaN into null
    body = json.dumps({"events": [raw]}).encode()
    with pytest.raises(InvalidMessage):
        parse_message(body)
