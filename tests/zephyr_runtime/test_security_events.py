"""zephyr_runtime.security_events: a flood of events is sampled to the first plus a summary."""

from __future__ import annotations

from contracts import AuditEvent
from zephyr_runtime.security_events import SecurityEvents


async def test_a_flood_of_events_is_sampled_to_first_plus_summary() -> None:
    emitted: list[AuditEvent] = []

    async def emit(events: list[AuditEvent]) -> None:
        emitted.extend(events)

    events = SecurityEvents(service="test", emit=emit, max_keys=3)
    for i in range(1000):
        events.record(
            "security.rate_limited", reason="x", client_ip="1.1.1.1", correlation_id=f"c{i}"
        )
    for ip in ("2.2.2.2", "3.3.3.3", "4.4.4.4", "5.5.5.5"):
        events.record("security.rate_limited", reason="x", client_ip=ip, correlation_id=None)
    await events.flush()
    assert len(emitted) == 3  # the first of each of the 3 tracked keys
    assert emitted[0].correlation_id == "c0" and emitted[0].client_ip == "1.1.1.1"
    events.close_window()
    await events.flush()
    summaries = emitted[3:]
    assert {(e.client_ip, e.data["suppressed"]) for e in summaries} == {
        ("1.1.1.1", 999),
        (None, 2),  # 4.4.4.4 and 5.5.5.5 did not fit: counted as overflow
    }
