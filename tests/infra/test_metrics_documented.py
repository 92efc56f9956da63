"""Every metric the running services export is documented in docs/operations.md."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.support.procs import Stack

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
OURS = re.compile(r"^(zephyr|poll_api|ws_gateway|vote_worker|audit_sink)_")


def families(text: str) -> set[str]:
    """Metric family names from the `# TYPE` lines (counters carry their `_total`)."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name = line.split()[2]
            if OURS.match(name) and not name.endswith("_created"):
                names.add(name)
    return names


def test_every_exported_metric_is_documented(infra_stack: Stack) -> None:
    documented = set(re.findall(r"`([a-z_:]+)`", DOC.read_text()))
    exported: dict[str, set[str]] = {}
    for name, svc in infra_stack.services.items():
        exported[name] = families(httpx.get(f"{svc.url}/metrics", timeout=10).text)
    missing = {name: sorted(found - documented) for name, found in exported.items()}
    assert not any(missing.values()), f"document these in docs/operations.md: {missing}"
    # The families are all there somewhere.
    everything = set().union(*exported.values())
    for required in (
        "zephyr_queue_messages",
        "zephyr_dependency_up",
        "zephyr_db_query_duration_seconds",
        "zephyr_db_pool_connections",
        "zephyr_messages_published_total",
        "zephyr_messages_consumed_total",
        "zephyr_messages_dead_lettered_total",
        "zephyr_ws_gateway_tally_push_latency_seconds",
        "zephyr_poll_api_polls",
        "zephyr_poll_api_http_timeouts_total",
    ):
        assert required in everything, required
