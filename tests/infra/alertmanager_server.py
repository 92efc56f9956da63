"""A private Alertmanager (Debian's binary) with Zephyr's routes, and a webhook receiver."""

from __future__ import annotations

import json
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from tests.infra.daemon import Daemon
from tests.support.procs import free_port

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "infra" / "alertmanager" / "alertmanager.yml"


def binary() -> str:
    exe = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    assert exe is not None, (
        "alertmanager not found: run `bash infra/scripts/ensure_prometheus.sh` (make test does)"
    )
    return exe


class WebhookReceiver:
    """Collects every notification Alertmanager posts (its webhook JSON), on a free port."""

    def __init__(self) -> None:
        self.received: list[tuple[float, dict[str, Any]]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                received.append((time.monotonic(), json.loads(self.rfile.read(length))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def alerts(self) -> list[tuple[float, dict[str, Any]]]:
        """(arrival, alert) for every alert of every notification so far."""
        return [(at, alert) for at, body in self.received for alert in body.get("alerts", [])]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def site_config(webhook_url: str, smtp_port: int) -> dict[str, Any]:
    """infra/alertmanager/alertmanager.yml with the test's webhook and a closed SMTP port."""
    config: dict[str, Any] = yaml.safe_load(CONFIG.read_text())
    config["global"]["smtp_smarthost"] = f"127.0.0.1:{smtp_port}"
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = webhook_url
    return config


class AlertmanagerServer(Daemon):
    name = "alertmanager"

    def __init__(self, workdir: Path, config: dict[str, Any]) -> None:
        super().__init__(workdir)
        config_path = workdir / "alertmanager.yml"
        config_path.write_text(yaml.safe_dump(config))
        self._spawn(
            [
                binary(),
                f"--config.file={config_path}",
                f"--storage.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
            ]
        )
