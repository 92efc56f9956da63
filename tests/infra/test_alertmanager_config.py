"""infra/alertmanager/alertmanager.yml is valid (amtool from Debian's package) and routes every
severity the alert rules use to a receiver that reaches a person."""

from __future__ import annotations

import shutil
import subprocess

import yaml

from tests.infra.alertmanager_server import CONFIG
from tests.infra.prometheus_server import ALERTS


def test_config_is_valid() -> None:
    exe = shutil.which("amtool")
    assert exe is not None, "amtool not found: run `bash infra/scripts/ensure_prometheus.sh`"
    result = subprocess.run(
        [exe, "check-config", str(CONFIG)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_severity_has_a_route_to_a_person() -> None:
    rules = yaml.safe_load(ALERTS.read_text())
    severities = {
        r["labels"]["severity"] for g in rules["groups"] for r in g["rules"] if "alert" in r
    }
    config = yaml.safe_load(CONFIG.read_text())
    receivers = {r["name"]: r for r in config["receivers"]}
    routed = {
        m.split("=", 1)[1].strip('"'): route["receiver"]
        for route in config["route"]["routes"]
        for m in route["matchers"]
        if m.startswith("severity=")
    }
    assert severities <= set(routed), severities - set(routed)
    assert receivers[routed["page"]].get("webhook_configs"), "a page must reach the webhook"
    for severity, name in routed.items():
        receiver = receivers[name]
        assert receiver.get("email_configs") or receiver.get("webhook_configs"), severity


def test_prometheus_sends_to_alertmanager() -> None:
    config = yaml.safe_load((ALERTS.parent / "prometheus.yml").read_text())
    targets = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert targets == ["127.0.0.1:9093"]
