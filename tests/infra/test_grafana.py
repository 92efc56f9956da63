"""The provisioned dashboards load, are up to date, and read only metrics that really exist."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import yaml

from tests.infra.metric_names import PROMETHEUS_SERIES, referenced_names
from tests.infra.prometheus_server import PrometheusServer
from tests.support.eventually import eventually_sync

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "infra" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
EXPECTED = {
    "zephyr-poll-api",
    "zephyr-ws-gateway",
    "zephyr-vote-worker",
    "zephyr-audit-sink",
    "zephyr-vote-pipeline",
}


def load_builder() -> Any:
    spec = importlib.util.spec_from_file_location(
        "build_dashboards", GRAFANA / "build_dashboards.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def expressions() -> list[tuple[str, str, str]]:
    """(dashboard uid, panel title, expr) for every target of every dashboard."""
    found = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel["targets"]:
                found.append((board["uid"], panel["title"], target["expr"]))
    return found


def recording_rules() -> set[str]:
    rules = yaml.safe_load((ROOT / "infra" / "prometheus" / "alerts.yml").read_text())
    return {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}


def test_dashboards_load_and_are_provisioned() -> None:
    uids = set()
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        assert board["uid"] == path.stem
        assert board["panels"], path
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == "zephyr-prometheus"
            assert panel["targets"], f"{path.name}: {panel['title']} has no query"
        uids.add(board["uid"])
    assert uids == EXPECTED
    source = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    assert source["datasources"][0]["uid"] == "zephyr-prometheus"
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "zephyr.yml").read_text())
    assert provider["providers"][0]["type"] == "file"


def test_dashboards_are_generated_from_the_builder() -> None:
    rendered = load_builder().render()
    on_disk = {p.name: p.read_text() for p in DASHBOARDS}
    assert rendered == on_disk, "run `python infra/grafana/build_dashboards.py`"


def test_every_expression_reads_metrics_the_services_export(
    live_metric_names: dict[str, set[str]],
) -> None:
    exported = set().union(*live_metric_names.values()) | recording_rules() | PROMETHEUS_SERIES
    unknown = {
        (uid, title, name)
        for uid, title, expr in expressions()
        for name in referenced_names(expr)
        if name not in exported
    }
    assert not unknown, f"dashboards read metrics nobody exports: {sorted(unknown)}"


def test_every_expression_is_valid_promql_with_data(prometheus: PrometheusServer) -> None:
    """Prometheus itself parses each query; the pipeline's core panels return data."""
    queries = [(title, expr.replace("$__rate_interval", "1m")) for _, title, expr in expressions()]
    must_have_data = {"Votes: accepted → recorded → tallies pushed", "votes backlog", "Open polls"}
    empty: list[tuple[str, str]] = []

    def core_panels_have_data() -> bool:
        empty.clear()
        for title, query in queries:
            if not prometheus.query(query) and title in must_have_data:  # raises on bad PromQL
                empty.append((title, query))
        return not empty

    try:
        eventually_sync(core_panels_have_data, timeout=90, interval=0.5)
    except AssertionError:
        raise AssertionError(f"core pipeline panels returned no data: {empty}") from None
