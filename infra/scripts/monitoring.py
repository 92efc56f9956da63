"""Prometheus and Alertmanager beside `make run` (opt-in: ZEPHYR_MONITORING=1).

Both are Debian's binaries (`bash infra/scripts/ensure_prometheus.sh` installs them), started
with the repository's own configuration: `infra/prometheus/prometheus.yml` scrapes the four
services on their `make run` ports and sends firing alerts to Alertmanager on :9093, which
routes them with `infra/alertmanager/alertmanager.yml`. Data lives under `.run/`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093


def _binary(*names: str) -> str:
    for name in names:
        exe = shutil.which(name)
        if exe:
            return exe
    raise SystemExit(
        f"[zephyr] {names[0]} not found: run `bash infra/scripts/ensure_prometheus.sh`"
    )


def commands(run_dir: Path) -> dict[str, list[str]]:
    """The command line of each monitoring process (storage under run_dir)."""
    return {
        "alertmanager": [
            _binary("prometheus-alertmanager", "alertmanager"),
            f"--config.file={ROOT / 'infra' / 'alertmanager' / 'alertmanager.yml'}",
            f"--storage.path={run_dir / 'alertmanager'}",
            f"--web.listen-address=127.0.0.1:{ALERTMANAGER_PORT}",
            "--cluster.listen-address=",
        ],
        "prometheus": [
            _binary("prometheus"),
            f"--config.file={ROOT / 'infra' / 'prometheus' / 'prometheus.yml'}",
            f"--storage.tsdb.path={run_dir / 'prometheus'}",
            f"--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}",
        ],
    }


def start(run_dir: Path) -> list[subprocess.Popen[bytes]]:
    """Start Alertmanager, then Prometheus; their logs go to run_dir/<name>.log."""
    run_dir.mkdir(parents=True, exist_ok=True)
    procs = []
    for name, argv in commands(run_dir).items():
        log = (run_dir / f"{name}.log").open("ab")
        procs.append(
            subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        )
        print(f"[zephyr] {name} started (log {run_dir / f'{name}.log'})", flush=True)
    print(
        f"  prometheus    http://127.0.0.1:{PROMETHEUS_PORT}/alerts\n"
        f"  alertmanager  http://127.0.0.1:{ALERTMANAGER_PORT}",
        flush=True,
    )
    return procs


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in reversed(procs):
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
