"""Run Zephyr locally: create the database, migrate, start and supervise the four services.

`python infra/scripts/devstack.py migrate` applies every service's migrations;
`python infra/scripts/devstack.py run` also starts the services, prints their URLs and supervises
them (`supervisor.py`: a service that exits is restarted with back-off; a crash loop is given up).
With ZEPHYR_MONITORING=1, Prometheus and Alertmanager run beside them (`monitoring.py`).
Ctrl-C (or SIGTERM) stops all of them with SIGTERM and waits for their graceful shutdown.

The public ports are relays to each service's current process (deploy_relay.py), the processes
run a frozen copy of the code (deploy_release.py), and `.run/stack.json` with `.run/control.sock`
let `make deploy` (deploy.py) swap them one at a time (deploy_control.py). ZEPHYR_RUN_DIR moves
`.run` (tests use a private one).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import deploy_release
import monitoring
from deploy_control import ControlServer, write_state
from deploy_relay import Loop, Relay
from deploy_swaps import Swaps
from supervisor import Supervisor, releases_in_use

DATABASE_URL = os.environ.setdefault(
    "ZEPHYR_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/zephyr"
)
SERVICES = [  # (package, env prefix, port) in start order
    ("poll_api", "POLL_API_", 8000),
    ("vote_worker", "VOTE_WORKER_", 8002),
    ("audit_sink", "AUDIT_SINK_", 8003),
    ("ws_gateway", "WS_GATEWAY_", 8001),
]
MIGRATING = ["poll_api", "vote_worker", "audit_sink"]
ROOT = Path(__file__).resolve().parents[2]
RUN_DIR = Path(os.environ.get("ZEPHYR_RUN_DIR") or ROOT / ".run")


def port_of(package: str, prefix: str, default: int) -> int:
    return int(os.environ.get(f"{prefix}PORT", default))


def host_of(prefix: str) -> str:
    """Where the public port listens (the relay's); the processes stay on 127.0.0.1."""
    return os.environ.get(f"{prefix}HOST") or os.environ.get("ZEPHYR_HOST") or "127.0.0.1"


async def ensure_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
    conn = await asyncpg.connect(admin_url, timeout=10)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
            print(f"[zephyr] created database {name}")
    finally:
        await conn.close()


def migrate() -> None:
    asyncio.run(ensure_database(DATABASE_URL))
    for package in MIGRATING:
        subprocess.run([sys.executable, "-m", package, "migrate"], check=True)
    print("[zephyr] migrations applied")


def ensure_port_free(package: str, prefix: str, port: int) -> None:
    """Fail clearly when a port is taken, rather than mistake another server for ours."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise SystemExit(
                f"[zephyr] port {port} for {package} is in use; free it or set {prefix}PORT"
            ) from None


def ensure_run_dir_free(state_file: Path) -> None:
    """One `make run` per run directory: a second one would take over the first's socket."""
    try:
        pid = int(json.loads(state_file.read_text())["supervisor_pid"])
        if b"devstack" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return  # the pid was reused by another program
    except (OSError, ValueError, KeyError, TypeError):
        return  # no state, or its supervisor is gone (killed): the directory is free
    raise SystemExit(
        f"[zephyr] another `make run` (pid {pid}) uses {state_file.parent}: "
        "stop it, or set ZEPHYR_RUN_DIR to another directory"
    )


def run() -> None:
    """Migrate, start the services in order, then supervise them until Ctrl-C or SIGTERM."""
    ensure_run_dir_free(RUN_DIR / "stack.json")
    migrate()
    api_port = port_of("poll_api", "POLL_API_", 8000)
    os.environ.setdefault("WS_GATEWAY_POLL_API_URL", f"http://127.0.0.1:{api_port}")
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    releases = RUN_DIR / "releases"
    release = deploy_release.snapshot(ROOT, releases)
    print(f"[zephyr] running {release.describe()}", flush=True)
    loop, relay = Loop(), Relay()
    supervisor = Supervisor(releases, route=relay.routes.__setitem__)
    swaps = Swaps(supervisor)
    control = ControlServer(RUN_DIR / "control.sock")
    state_file = RUN_DIR / "stack.json"

    def save_state() -> None:
        write_state(
            state_file,
            {
                "supervisor_pid": os.getpid(),
                "control": str(control.path),
                "root": str(ROOT),
                "services": supervisor.state(),
            },
        )
        deploy_release.prune(releases, releases_in_use(supervisor))

    watching = os.environ.get("ZEPHYR_MONITORING", "") in ("1", "true", "yes")
    extras = monitoring.start(RUN_DIR) if watching else []
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        for package, prefix, default in SERVICES:
            if stopping:
                return
            port = port_of(package, prefix, default)
            ensure_port_free(package, prefix, port)
            loop.call(relay.listen(package, host_of(prefix), port))
            supervisor.start(package, prefix, dict(os.environ), port, release)
        loop.call(control.start())
        supervisor.on_change = save_state
        save_state()
        gw = port_of("ws_gateway", "WS_GATEWAY_", 8001)
        worker = port_of("vote_worker", "VOTE_WORKER_", 8002)
        sink = port_of("audit_sink", "AUDIT_SINK_", 8003)
        print(
            "\n[zephyr] all four services are up\n"
            f"  poll-api     http://127.0.0.1:{api_port}  (OpenAPI: /docs)\n"
            f"  ws-gateway   ws://127.0.0.1:{gw}/ws/<ROOM_CODE>\n"
            f"  vote-worker  http://127.0.0.1:{worker}/metrics\n"
            f"  audit-sink   http://127.0.0.1:{sink}/metrics\n"
            "  A service that exits is restarted; `make deploy` rolls out the code checked out;\n"
            "  Ctrl-C stops them all.\n",
            flush=True,
        )
        while not stopping:
            supervisor.tick()
            control.serve_pending(swaps.handle, wait=0.2)
    finally:
        supervisor.on_change = lambda: None
        state_file.unlink(missing_ok=True)
        loop.call(control.close())
        supervisor.stop()
        loop.call(relay.close())
        loop.stop()
        monitoring.stop(extras)


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "run"
    if command == "migrate":
        migrate()
    elif command == "run":
        run()
    else:
        raise SystemExit(f"usage: {sys.argv[0]} [run|migrate]")
