"""Alerts reach someone: a real Prometheus evaluates infra/prometheus/alerts.yml against a
running vote-worker, a real Alertmanager routes with infra/alertmanager/alertmanager.yml, and
the on-call webhook receives `ZephyrDependencyDown` when the worker's Redis dies."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fault.servers import PrivateRedis
from tests.infra.alertmanager_server import CONFIG, AlertmanagerServer, WebhookReceiver, site_config
from tests.infra.prometheus_server import ALERTS, PrometheusServer
from tests.support.eventually import eventually_sync
from tests.support.isolation import Resources
from tests.support.procs import Stack, free_port, supervised

SCRAPE_S = 1.0


def _rule(name: str) -> dict[str, Any]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    rule: dict[str, Any] = next(r for g in groups for r in g["rules"] if r.get("alert") == name)
    return rule


def _seconds(duration: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    return float(duration[:-1]) * units[duration[-1]]


@pytest.fixture
def worker_on_private_redis(infra_resources: Resources, tmp_path: Path) -> Iterator[Any]:
    redis = PrivateRedis(root=tmp_path / "redis", port=free_port()).start()
    env = {
        **infra_resources.env(),
        "ZEPHYR_REDIS_URL": redis.url,
        "ZEPHYR_METRICS_SAMPLE_SECONDS": "1",
    }
    try:
        with supervised(env, tmp_path) as stack:
            stack.add("vote_worker", "vote_worker").start().wait_ready()
            yield stack, redis
    finally:
        redis.stop()


def test_a_dead_dependency_pages_the_on_call_webhook(
    worker_on_private_redis: tuple[Stack, PrivateRedis], tmp_path: Path
) -> None:
    stack, redis = worker_on_private_redis
    receiver = WebhookReceiver()
    manager = AlertmanagerServer(_mkdir(tmp_path / "am"), site_config(receiver.url, free_port()))
    prometheus = PrometheusServer(
        _mkdir(tmp_path / "prom"),
        {
            "global": {"scrape_interval": f"{SCRAPE_S:.0f}s", "evaluation_interval": "1s"},
            "rule_files": [str(ALERTS)],
            "alerting": {
                "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{manager.port}"]}]}]
            },
            "scrape_configs": [
                {
                    "job_name": "vote-worker",
                    "static_configs": [{"targets": [f"127.0.0.1:{stack['vote_worker'].port}"]}],
                }
            ],
        },
    )
    try:
        manager.wait_ready()
        prometheus.wait_ready()

        def redis_up_seen() -> bool:
            result = prometheus.query('zephyr_dependency_up{job="vote-worker",dependency="redis"}')
            return bool(result) and result[0]["value"][1] == "1"

        eventually_sync(redis_up_seen, timeout=60, interval=0.5)
        assert receiver.alerts() == []

        redis.stop()
        killed_at = time.monotonic()
        rule = _rule("ZephyrDependencyDown")
        page = _page_route()
        # The rule's promise: its `for`, plus a scrape and an evaluation to see the outage, plus
        # the page route's group_wait, plus slack for Prometheus' send interval on a busy machine.
        promised = _seconds(rule["for"]) + 2 * SCRAPE_S + _seconds(page["group_wait"]) + 20

        def paged() -> list[dict[str, Any]]:
            return [
                alert
                for _, alert in receiver.alerts()
                if alert["labels"].get("alertname") == "ZephyrDependencyDown"
                and alert["labels"].get("dependency") == "redis"
                and alert["status"] == "firing"
            ]

        eventually_sync(lambda: bool(paged()), timeout=promised, interval=0.5)
        waited = time.monotonic() - killed_at
        alert = paged()[0]
        assert alert["labels"]["severity"] == "page"
        assert alert["labels"]["job"] == "vote-worker"
        assert alert["annotations"]["runbook"].startswith("docs/operations.md#")
        # Not before the rule's `for`: the alert waits out a blip, as it promises.
        assert waited >= _seconds(rule["for"]), waited
    finally:
        prometheus.stop()
        manager.stop()
        receiver.stop()


def _page_route() -> dict[str, Any]:
    config = yaml.safe_load(CONFIG.read_text())
    route: dict[str, Any] = next(
        r for r in config["route"]["routes"] if 'severity="page"' in r["matchers"]
    )
    return route


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
