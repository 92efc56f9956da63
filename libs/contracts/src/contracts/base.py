"""Base class of every versioned contract and the AMQP header names they travel with."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

# AMQP message properties carry message_id and type; these headers carry the rest.
HEADER_CONTRACT_VERSION = "x-contract-version"
HEADER_OCCURRED_AT = "x-occurred-at"
HEADER_CORRELATION_ID = "x-correlation-id"
HEADER_TRACEPARENT = "traceparent"
HEADER_TRACESTATE = "tracestate"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Contract(BaseModel):
    """A versioned message. Changing the JSON schema requires bumping VERSION."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    CONTRACT: ClassVar[str]
    VERSION: ClassVar[int]

    @classmethod
    def message_type(cls) -> str:
        """The AMQP `type` property: contract name and version, e.g. `zephyr.vote_batch.v1`."""
        return f"{cls.CONTRACT}.v{cls.VERSION}"


def envelope_headers(
    message: Contract,
    *,
    correlation_id: str,
    occurred_at: datetime | None = None,
    trace_headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Headers every published message carries (the message id goes in the AMQP property)."""
    headers: dict[str, Any] = {
        HEADER_CONTRACT_VERSION: message.VERSION,
        HEADER_OCCURRED_AT: (occurred_at or utcnow()).isoformat(),
        HEADER_CORRELATION_ID: correlation_id,
    }
    if trace_headers:
        for key in (HEADER_TRACEPARENT, HEADER_TRACESTATE):
            if key in trace_headers:
                headers[key] = trace_headers[key]
    return headers
