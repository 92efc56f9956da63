"""Writes infra/grafana/dashboards/*.json from the panel lists below (run after editing them).

`python infra/grafana/build_dashboards.py` regenerates; tests/infra/test_grafana.py fails when
the JSON files are stale or an expression reads a metric no service exports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "zephyr-prometheus"}
RATE = "$__rate_interval"

# (title, unit, [(expr, legend)], kind)
Panel = tuple[str, str, list[tuple[str, str]], str]


def ts(title: str, unit: str, *targets: tuple[str, str]) -> Panel:
    return (title, unit, list(targets), "timeseries")


def stat(title: str, unit: str, *targets: tuple[str, str]) -> Panel:
    return (title, unit, list(targets), "stat")


def sel(job: str = "", extra: str = "") -> str:
    """A label selector: {job="..."} plus extra matchers."""
    parts = [f'job="{job}"'] if job else []
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def rate(metric: str, job: str = "", by: str = "", extra: str = "") -> str:
    """sum [by (...)] (rate(metric{...}[$__rate_interval]))"""
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (rate({metric}{sel(job, extra)}[{RATE}]))"


def p95(metric: str, by: str = "", where: str = "") -> str:
    group = f"le{', ' + by if by else ''}"
    return f"histogram_quantile(0.95, sum by ({group}) (rate({metric}_bucket{where}[{RATE}])))"


def outcomes(
    title: str, job: str, done: str, done_label: str, duplicates: str, rejected: str
) -> Panel:
    """What a consumer did with what it received: stored, duplicates skipped, rejected."""
    return ts(
        title,
        "ops",
        (rate(done, job), done_label),
        (rate(duplicates, job), "duplicates"),
        (rate(rejected, job, "reason"), "rejected: {{reason}}"),
    )


def db_panels(job: str) -> list[Panel]:
    return [
        ts(
            "Database p95 query time by statement",
            "s",
            (p95("zephyr_db_query_duration_seconds", "operation", sel(job)), "{{operation}}"),
        ),
        ts(
            "Database pool",
            "short",
            (f"sum by (state) (zephyr_db_pool_connections{sel(job)})", "{{state}}"),
        ),
    ]


def health_panels(job: str) -> list[Panel]:
    memory = (
        f"process_resident_memory_bytes{sel(job)}"
        f" / on (job, instance) zephyr_memory_limit_bytes{sel(job)}"
    )
    return [
        ts(
            "Dependencies up (1 = up)",
            "short",
            (f"min by (dependency) (zephyr_dependency_up{sel(job)})", "{{dependency}}"),
        ),
        ts("Memory used / limit", "percentunit", (memory, "{{instance}}")),
        ts("Replicas up", "short", (f"sum(up{sel(job)})", "up")),
    ]


API, GW, WORKER, SINK = "poll-api", "ws-gateway", "vote-worker", "audit-sink"
HTTP = "zephyr_poll_api_http_requests_total"
OPEN = 'status="open"'


def http_share(status_metric: str, extra: str = "") -> str:
    return f"{rate(status_metric, API, extra=extra)} / {rate(HTTP, API)}"


DASHBOARDS: dict[str, tuple[str, list[Panel]]] = {
    "zephyr-poll-api": (
        "Zephyr / poll-api",
        [
            ts(
                "Requests by route and class",
                "reqps",
                (rate(HTTP, API, "route, status"), "{{route}} {{status}}"),
            ),
            ts(
                "Error ratio (5xx, 4xx) and timeouts",
                "percentunit",
                (http_share(HTTP, 'status="5xx"'), "5xx"),
                (http_share(HTTP, 'status="4xx"'), "4xx"),
                (http_share("zephyr_poll_api_http_timeouts_total"), "timeouts"),
            ),
            ts(
                "p95 latency by route",
                "s",
                (
                    p95("zephyr_poll_api_http_request_duration_seconds", "route", sel(API)),
                    "{{route}}",
                ),
            ),
            stat("Polls open", "short", (f"max(zephyr_poll_api_polls{sel(API, OPEN)})", "open")),
            stat(
                "Participants in open polls",
                "short",
                (f"max(zephyr_poll_api_open_poll_participants{sel(API)})", "participants"),
            ),
            ts(
                "Polls created and host actions",
                "ops",
                (rate("zephyr_poll_api_polls_created_total", API), "created"),
                (rate("zephyr_poll_api_poll_transitions_total", API, "event"), "{{event}}"),
            ),
            ts(
                "Outbox",
                "short",
                (f"max(zephyr_poll_api_outbox_backlog{sel(API)})", "backlog"),
                (rate("zephyr_poll_api_outbox_relay_failures_total", API), "relay failures/s"),
            ),
            ts(
                "Messages published",
                "ops",
                (
                    rate("zephyr_messages_published_total", API, "destination, outcome"),
                    "{{destination}} {{outcome}}",
                ),
            ),
            *db_panels(API),
            *health_panels(API),
        ],
    ),
    "zephyr-ws-gateway": (
        "Zephyr / ws-gateway",
        [
            stat(
                "Connections now", "short", (f"sum(zephyr_ws_gateway_connections{sel(GW)})", "now")
            ),
            ts(
                "Connections",
                "short",
                (f"sum by (instance) (zephyr_ws_gateway_connections{sel(GW)})", "{{instance}}"),
                (rate("zephyr_ws_gateway_connections_opened_total", GW), "opened/s"),
            ),
            ts(
                "Frames in by type",
                "ops",
                (rate("zephyr_ws_gateway_frames_received_total", GW, "type"), "{{type}}"),
            ),
            ts(
                "Frames out by type",
                "ops",
                (rate("zephyr_ws_gateway_frames_sent_total", GW, "type"), "{{type}}"),
            ),
            ts(
                "Votes accepted and refused",
                "ops",
                (rate("zephyr_ws_gateway_votes_accepted_total", GW), "accepted"),
                (rate("zephyr_ws_gateway_votes_rejected_total", GW, "code"), "refused: {{code}}"),
            ),
            ts(
                "Latency: vote confirm and tally push (p95)",
                "s",
                (
                    p95("zephyr_ws_gateway_vote_publish_seconds", where=sel(GW)),
                    "vote publish → confirm",
                ),
                (
                    p95("zephyr_ws_gateway_tally_push_latency_seconds", where=sel(GW)),
                    "tally published → pushed",
                ),
            ),
            ts(
                "Error frames by code",
                "ops",
                (rate("zephyr_ws_gateway_errors_sent_total", GW, "code"), "{{code}}"),
            ),
            ts(
                "Messages published",
                "ops",
                (
                    rate("zephyr_messages_published_total", GW, "destination, outcome"),
                    "{{destination}} {{outcome}}",
                ),
            ),
            *health_panels(GW),
        ],
    ),
    "zephyr-vote-worker": (
        "Zephyr / vote-worker",
        [
            outcomes(
                "Votes",
                WORKER,
                "zephyr_vote_worker_votes_recorded_total",
                "recorded",
                "zephyr_vote_worker_votes_duplicate_total",
                "zephyr_vote_worker_votes_rejected_total",
            ),
            ts(
                "Queue depth",
                "short",
                (f"max by (queue) (zephyr_queue_messages{sel(WORKER)})", "{{queue}}"),
            ),
            ts(
                "Consumers per queue",
                "short",
                (f"max by (queue) (zephyr_queue_consumers{sel(WORKER)})", "{{queue}}"),
            ),
            ts(
                "Messages per queue",
                "ops",
                (rate("zephyr_messages_consumed_total", WORKER, "queue"), "consumed {{queue}}"),
                (
                    rate("zephyr_messages_dead_lettered_total", WORKER, "queue"),
                    "dead-lettered {{queue}}",
                ),
            ),
            ts(
                "Batches",
                "short",
                (
                    "histogram_quantile(0.5, "
                    + rate("zephyr_vote_worker_batch_size_votes_bucket", WORKER, "le")
                    + ")",
                    "median votes per batch",
                ),
                (f"sum(zephyr_vote_worker_pending_votes{sel(WORKER)})", "pending votes"),
            ),
            ts(
                "Flush p95",
                "s",
                (p95("zephyr_vote_worker_flush_seconds", where=sel(WORKER)), "flush"),
            ),
            ts(
                "Flush retries by step",
                "ops",
                (rate("zephyr_vote_worker_flush_retries_total", WORKER, "step"), "{{step}}"),
            ),
            *db_panels(WORKER),
            *health_panels(WORKER),
        ],
    ),
    "zephyr-audit-sink": (
        "Zephyr / audit-sink",
        [
            outcomes(
                "Audit events",
                SINK,
                "zephyr_audit_sink_events_stored_total",
                "stored",
                "zephyr_audit_sink_duplicates_skipped_total",
                "zephyr_audit_sink_messages_rejected_total",
            ),
            ts(
                "Messages consumed",
                "ops",
                (rate("zephyr_messages_consumed_total", SINK, "queue"), "{{queue}}"),
            ),
            ts(
                "Pending events",
                "short",
                (f"sum(zephyr_audit_sink_pending_events{sel(SINK)})", "pending"),
            ),
            ts(
                "Flush p95", "s", (p95("zephyr_audit_sink_flush_seconds", where=sel(SINK)), "flush")
            ),
            ts(
                "Audit queue depth",
                "short",
                ('max by (queue) (zephyr_queue_messages{queue=~"audit|audit.dead"})', "{{queue}}"),
            ),
            *db_panels(SINK),
            *health_panels(SINK),
        ],
    ),
    "zephyr-vote-pipeline": (
        "Zephyr / vote pipeline",
        [
            ts(
                "Votes: accepted → recorded → tallies pushed",
                "ops",
                (rate("zephyr_ws_gateway_votes_accepted_total"), "accepted (gateway confirm)"),
                (rate("zephyr_vote_worker_votes_recorded_total"), "recorded (worker commit)"),
                (rate("zephyr_ws_gateway_tally_broadcasts_total"), "tally broadcasts"),
            ),
            ts(
                "Refused and rejected votes",
                "ops",
                (rate("zephyr_ws_gateway_votes_rejected_total", by="code"), "gateway: {{code}}"),
                (
                    rate("zephyr_vote_worker_votes_rejected_total", by="reason"),
                    "worker: {{reason}}",
                ),
            ),
            ts(
                "votes backlog",
                "short",
                ('max(zephyr_queue_messages{queue="votes"})', "ready in votes"),
                ('max(zephyr_queue_consumers{queue="votes"})', "consumers"),
            ),
            ts(
                "Dead letters",
                "short",
                ('max by (queue) (zephyr_queue_messages{queue=~".+\\\\.dead"})', "{{queue}}"),
            ),
            ts(
                "Latency along the path (p95)",
                "s",
                (p95("zephyr_ws_gateway_vote_publish_seconds"), "gateway publish → confirm"),
                (p95("zephyr_vote_worker_flush_seconds"), "worker flush"),
                (p95("zephyr_ws_gateway_tally_push_latency_seconds"), "tally published → pushed"),
                (
                    p95("zephyr_db_query_duration_seconds", where=sel(WORKER)),
                    "worker database query",
                ),
            ),
            stat("Open polls", "short", ('max(zephyr_poll_api_polls{status="open"})', "open")),
            stat("Connections", "short", ("sum(zephyr_ws_gateway_connections)", "connections")),
            stat(
                "Dependencies down",
                "short",
                ("count(zephyr_dependency_up == 0) or vector(0)", "down"),
            ),
        ],
    ),
}


def panel_json(index: int, panel: Panel) -> dict[str, Any]:
    title, unit, targets, kind = panel
    width = 6 if kind == "stat" else 12
    height = 4 if kind == "stat" else 8
    per_row = 24 // width
    return {
        "id": index + 1,
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {
            "x": (index % per_row) * width,
            "y": (index // per_row) * height,
            "w": width,
            "h": height,
        },
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "datasource": DATASOURCE,
                "expr": expr,
                "legendFormat": legend,
            }
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def dashboard_json(uid: str, title: str, panels: list[Panel]) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "tags": ["zephyr"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "links": [
            {"title": "Zephyr", "type": "dashboards", "tags": ["zephyr"], "asDropdown": True}
        ],
        "panels": [panel_json(i, p) for i, p in enumerate(panels)],
    }


def render() -> dict[str, str]:
    """File name → JSON text of every dashboard."""
    return {
        f"{uid}.json": json.dumps(dashboard_json(uid, title, panels), indent=2, ensure_ascii=False)
        + "\n"
        for uid, (title, panels) in DASHBOARDS.items()
    }


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, text in render().items():
        (OUT / name).write_text(text)
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
