"""Audit events: everything that happened, for `audit_log` and the replayable stream."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import Contract

MAX_EVENTS_PER_BATCH = 1000
AUDIT_KIND_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"


# The kinds in the docstring are the first version's (the docstring is part of the v1 schema):
# since a poll became a run of questions, poll-api emits question.* for host actions; the
# kinds in use are listed in docs/audit.md (tests/ops/test_audit_kinds.py keeps it complete).
class AuditEvent(BaseModel):
    """One thing that happened. `event_id` is the idempotency key in `audit_log`.

    Kinds in use: poll.created|opened|closed|revealed|reset, participant.joined,
    vote.recorded, vote.rejected, message.dead_lettered, security.* (auth_failed,
    rate_limited, invalid_input, origin_refused).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    kind: str = Field(pattern=AUDIT_KIND_PATTERN, max_length=64)
    service: str = Field(max_length=32)
    occurred_at: datetime
    poll_id: UUID | None = None
    participant_id: UUID | None = None
    correlation_id: str | None = Field(default=None, max_length=128)
    client_ip: str | None = Field(default=None, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict)


class AuditBatch(Contract):
    """Audit events travel in batches so that auditing a vote batch costs one message."""

    CONTRACT: ClassVar[str] = "zephyr.audit_batch"
    VERSION: ClassVar[int] = 1

    events: list[AuditEvent] = Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)
