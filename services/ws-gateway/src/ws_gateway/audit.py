"""What the gateway writes to the audit stream: `participant.joined` and the security events."""

from __future__ import annotations

from contracts import AuditBatch, AuditEvent
from contracts.topology import AUDIT_EXCHANGE, audit_routing_key
from zephyr_runtime.amqp import ConfirmedPublisher
from zephyr_runtime.security_events import SecurityEvents

SERVICE = "ws-gateway"


async def publish_audit(
    publisher: ConfirmedPublisher, events: list[AuditEvent], *, correlation_id: str
) -> None:
    """One confirmed AuditBatch to the audit exchange (audit-sink stores it)."""
    await publisher.publish(
        AuditBatch(events=events),
        exchange=AUDIT_EXCHANGE,
        routing_key=audit_routing_key(SERVICE),
        correlation_id=correlation_id,
    )


def security_events(publisher: ConfirmedPublisher, *, window_seconds: float) -> SecurityEvents:
    """The process's sampled `security.*` events (zephyr_runtime.security_events), published
    in the background; `start()` it in the running loop, `stop()` emits the last ones."""

    async def emit(events: list[AuditEvent]) -> None:
        first = events[0]
        await publish_audit(
            publisher, events, correlation_id=first.correlation_id or str(first.event_id)
        )

    return SecurityEvents(service=SERVICE, emit=emit, window_seconds=window_seconds)
