"""Messages that can never be processed: rejected without requeue, so they dead-letter."""

from __future__ import annotations

import logging
import uuid
from typing import Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from contracts.base import HEADER_CORRELATION_ID
from vote_worker.audit import poison_event
from vote_worker.publish import Outbound
from zephyr_runtime import opsmetrics as ops

M = TypeVar("M", bound=BaseModel)

log = logging.getLogger(__name__)


class InvalidBody(ValueError):
    """The message body is not a valid contract; the text is the reason."""


class Delivered(Protocol):
    """The parts of a consumed message the worker uses (FastStream's RabbitMessage has them)."""

    @property
    def message_id(self) -> str: ...

    @property
    def headers(self) -> dict[str, object]: ...

    async def ack(self) -> None: ...

    async def reject(self, requeue: bool = False) -> None: ...


def correlation_id_of(message: Delivered) -> str:
    value = message.headers.get(HEADER_CORRELATION_ID)
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if isinstance(value, str) and value:
        return value[:128]
    return uuid.uuid4().hex


def describe_invalid(exc: ValidationError) -> str:
    """A short reason: `invalid_json`, or the first schema error with its location."""
    errors = exc.errors(include_url=False, include_input=False)
    if any(err["type"] == "json_invalid" for err in errors):
        return "invalid_json"
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "(body)"
    return f"invalid_schema: {where}: {first['msg']}"[:300]


def parse_body(contract: type[M], body: bytes) -> M:
    """The body as `contract`, or InvalidBody saying why not."""
    try:
        return contract.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidBody(describe_invalid(exc)) from exc


async def reject_poison(
    message: Delivered,
    *,
    queue: str,
    reason: str,
    correlation_id: str,
    outbound: Outbound | None = None,
) -> None:
    """Log, audit (best effort: the dead-letter queue keeps the message anyway) and reject."""
    log.error(
        "poison message on %s dead-lettered: %s",
        queue,
        reason,
        extra={"queue": queue, "message_id": message.message_id, "reason": reason},
    )
    if outbound is not None:
        try:
            await outbound.audit(
                [poison_event(reason, message.message_id, correlation_id)], correlation_id
            )
        except Exception as exc:
            log.warning("could not audit poison message: %s", exc)
    try:
        await message.reject(requeue=False)
        ops.MESSAGES_FAILED.labels(queue).inc()
        ops.MESSAGES_DEAD_LETTERED.labels(queue).inc()
    except Exception as exc:
        # A closed channel returns the message to the queue; it is rejected on redelivery.
        log.warning("could not reject poison message: %s", exc)
