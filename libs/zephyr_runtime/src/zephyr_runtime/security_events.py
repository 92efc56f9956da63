"""Security events for the audit stream, sampled so that a flood writes a few rows, not millions.

Each occurrence has a key: (kind, reason, client IP, poll). The first occurrence of a key in a
window (default 10 s) is emitted at once with everything about it (so an investigator sees the
real request, its correlation id and IP); further occurrences of that key in the window are only
counted, and when the window ends one summary event carries the count (`data.suppressed`). At
most `max_keys` keys are tracked per window; occurrences beyond that (a flood from many IPs) are
counted per kind and summarised as one `reason = "overflow"` event. So the audit volume is
bounded by `max_keys` x 2 events per window, whatever the attack. Every occurrence is still
counted in the metric `zephyr_security_events_total{kind}`.

Emission is best effort and never blocks the request: events are queued and handed to `emit`
(poll-api writes them to its outbox, the gateway publishes them) by a background task.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from prometheus_client import Counter

from contracts import AuditEvent, utcnow
from contracts.audit import MAX_EVENTS_PER_BATCH
from zephyr_runtime.tasks import cancel_and_wait

log = logging.getLogger(__name__)

SECURITY_EVENTS = Counter(
    "zephyr_security_events", "Security events seen (before sampling)", ["kind"]
)

Emit = Callable[[list[AuditEvent]], Awaitable[None]]
MAX_QUEUED = 5000


@dataclass
class _Seen:
    first: AuditEvent
    count: int = 1
    last_correlation_id: str | None = None


@dataclass
class SecurityEvents:
    """Records `security.*` audit events with per-key sampling. `start()` in a running loop."""

    service: str
    emit: Emit
    window_seconds: float = 10.0
    max_keys: int = 1000
    flush_seconds: float = 0.25
    _window: dict[tuple[str, str, str | None, UUID | None], _Seen] = field(default_factory=dict)
    _overflow: dict[str, int] = field(default_factory=dict)
    _queue: list[AuditEvent] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    def record(
        self,
        kind: str,
        *,
        reason: str,
        client_ip: str | None,
        correlation_id: str | None,
        poll_id: UUID | None = None,
        participant_id: UUID | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Note one occurrence; never raises, never waits."""
        SECURITY_EVENTS.labels(kind).inc()
        key = (kind, reason, client_ip, poll_id)
        seen = self._window.get(key)
        if seen is not None:
            seen.count += 1
            seen.last_correlation_id = correlation_id
            return
        if len(self._window) >= self.max_keys:
            self._overflow[kind] = self._overflow.get(kind, 0) + 1
            return
        event = self._event(
            kind,
            client_ip=client_ip,
            correlation_id=correlation_id,
            poll_id=poll_id,
            participant_id=participant_id,
            data={"reason": reason, **(data or {})},
        )
        self._window[key] = _Seen(first=event)
        self._enqueue(event)

    def _event(
        self,
        kind: str,
        *,
        client_ip: str | None,
        correlation_id: str | None,
        poll_id: UUID | None,
        participant_id: UUID | None,
        data: dict[str, Any],
    ) -> AuditEvent:
        return AuditEvent(
            event_id=uuid.uuid4(),
            kind=kind,
            service=self.service,
            occurred_at=utcnow(),
            poll_id=poll_id,
            participant_id=participant_id,
            correlation_id=correlation_id[:128] if correlation_id else None,
            client_ip=client_ip[:64] if client_ip else None,
            data=data,
        )

    def _enqueue(self, event: AuditEvent) -> None:
        if len(self._queue) < MAX_QUEUED:
            self._queue.append(event)

    def close_window(self) -> None:
        """End the window: queue one summary per key that repeated, and the overflow counts."""
        window, self._window = self._window, {}
        overflow, self._overflow = self._overflow, {}
        for seen in window.values():
            if seen.count > 1:
                first = seen.first
                self._enqueue(
                    self._event(
                        first.kind,
                        client_ip=first.client_ip,
                        correlation_id=seen.last_correlation_id,
                        poll_id=first.poll_id,
                        participant_id=first.participant_id,
                        data={
                            **first.data,
                            "suppressed": seen.count - 1,
                            "window_seconds": self.window_seconds,
                        },
                    )
                )
        for kind, count in overflow.items():
            self._enqueue(
                self._event(
                    kind,
                    client_ip=None,
                    correlation_id=None,
                    poll_id=None,
                    participant_id=None,
                    data={
                        "reason": "overflow",
                        "suppressed": count,
                        "window_seconds": self.window_seconds,
                    },
                )
            )

    async def flush(self) -> None:
        """Hand the queued events to `emit`, in batches; a failure drops them (logged)."""
        while self._queue:
            batch = self._queue[:MAX_EVENTS_PER_BATCH]
            del self._queue[:MAX_EVENTS_PER_BATCH]
            try:
                await self.emit(batch)
            except Exception as exc:
                log.warning(
                    "security events not emitted", extra={"events": len(batch), "error": repr(exc)}
                )

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        window_ends = loop.time() + self.window_seconds
        while True:
            await asyncio.sleep(self.flush_seconds)
            if loop.time() >= window_ends:
                self.close_window()
                window_ends = loop.time() + self.window_seconds
            await self.flush()

    async def stop(self) -> None:
        """Stop the timer and emit what is left, summaries included."""
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        self.close_window()
        await self.flush()
