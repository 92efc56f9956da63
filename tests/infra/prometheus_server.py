"""A private Prometheus (Debian's binary) scraping a running Stack: temp storage, free port."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.infra.daemon import Daemon
from tests.support.procs import Stack

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "infra" / "prometheus" / "alerts.yml"
JOBS = {
    "poll_api": "poll-api",
    "ws_gateway": "ws-gateway",
    "vote_worker": "vote-worker",
    "audit_sink": "audit-sink",
}


def scrape_config(stack: Stack, interval: str = "1s") -> dict[str, Any]:
    """infra/prometheus/prometheus.yml with the stack's ports and a short interval."""
    config = yaml.safe_load((ROOT / "infra" / "prometheus" / "prometheus.yml").read_text())
    config["global"]["scrape_interval"] = interval
    config["global"]["evaluation_interval"] = interval
    config["rule_files"] = [str(ALERTS)]
    for job in config["scrape_configs"]:
        service = next(name for name, label in JOBS.items() if label == job["job_name"])
        job["static_configs"] = [{"targets": [f"127.0.0.1:{stack[service].port}"]}]
    return config


class PrometheusServer(Daemon):
    name = "prometheus"

    def __init__(self, workdir: Path, config: dict[str, Any]) -> None:
        exe = shutil.which("prometheus")
        assert exe is not None, (
            "prometheus not found: run `bash infra/scripts/ensure_prometheus.sh` (make test does)"
        )
        super().__init__(workdir)
        config_path = workdir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(config))
        self._spawn(
            [
                exe,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1h",
            ]
        )

    def query(self, promql: str) -> list[dict[str, Any]]:
        resp = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10)
        resp.raise_for_status()
        body = resp.json()
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def api(self, path: str) -> Any:
        resp = httpx.get(f"{self.url}/api/v1/{path}", timeout=10)
        resp.raise_for_status()
        return resp.json()["data"]
