"""Turn an incoming message body into rows for audit_log, or say why it can never be stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, NamedTuple
from uuid import UUID

from pydantic import ValidationError

from contracts import AuditBatch, AuditEvent

MAX_REASON_CHARS = 500
# The columns stored as the event has them; occurred_at and data are converted first.
_AS_IS = {"event_id", "kind", "service", "poll_id", "participant_id", "correlation_id", "client_ip"}


class InvalidMessage(ValueError):
    """The message can never be stored: it is rejected so that it dead-letters to audit.dead."""


class AuditRow(NamedTuple):
    """One audit_log row, in the column order of the INSERT."""

    event_id: UUID
    kind: str
    service: str
    occurred_at: datetime
    poll_id: UUID | None
    participant_id: UUID | None
    correlation_id: str | None
    client_ip: str | None
    data: str  # JSON text, cast to jsonb in SQL


def parse_message(body: bytes, message_type: str | None = None) -> list[AuditRow]:
    """Validate one AMQP body as an AuditBatch and return its rows.

    A message whose AMQP `type` names another contract is refused too: we cannot trust that we
    read it right. Values PostgreSQL would refuse (NUL characters, lone surrogates, NaN) are
    refused here, so a poison message never blocks a batch of good ones.
    """
    if message_type and message_type != AuditBatch.message_type():
        raise InvalidMessage(f"unexpected message type {message_type!r}")
    try:
        batch = AuditBatch.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidMessage(_short(str(exc))) from exc
    return [to_row(event) for event in batch.events]


def to_row(event: AuditEvent) -> AuditRow:
    try:
        data = json.dumps(event.data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidMessage(f"event {event.event_id}: data is not storable JSON: {exc}") from exc
    texts = (event.kind, event.service, event.correlation_id, event.client_ip, data)
    for text in texts:
        if text is not None:
            _check_storable_text(event.event_id, text)
    if _contains_nul(event.data):
        raise InvalidMessage(f"event {event.event_id}: data contains a NUL character")
    # A naive time is taken as UTC rather than the server's zone.
    occurred_at = event.occurred_at
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=UTC)
    return AuditRow(**event.model_dump(include=_AS_IS), occurred_at=occurred_at, data=data)


def _check_storable_text(event_id: UUID, text: str) -> None:
    if "\x00" in text:
        raise InvalidMessage(f"event {event_id}: text contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidMessage(f"event {event_id}: text is not valid UTF-8") from exc


def _contains_nul(value: Any) -> bool:
    """PostgreSQL's jsonb refuses \\u0000 anywhere, in keys or in strings."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in str(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_contains_nul(v) for v in value)
    return False


def _short(text: str) -> str:
    return text if len(text) <= MAX_REASON_CHARS else text[:MAX_REASON_CHARS] + "..."
