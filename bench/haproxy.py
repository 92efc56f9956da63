"""HAProxy (Debian's package) in front of several gateways: `balance leastconn`, WebSocket
friendly timeouts, run in the foreground on a free port and stopped by its PID."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.support.procs import free_port

from bench.limits import raise_open_files

CONFIG = """\
global
    maxconn {maxconn}
    nbthread 1
    log stderr format short local0 err

defaults
    mode http
    log global
    option http-server-close
    timeout connect 5s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
    timeout http-request 30s

frontend participants
    bind 127.0.0.1:{port}
    maxconn {maxconn}
    default_backend gateways

backend gateways
    balance leastconn
{servers}
"""


def ensure_installed() -> str:
    """The haproxy binary; installs Debian's package when it is missing (needs root)."""
    found = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
    )
    if found:
        return found
    print("[bench] installing haproxy (apt-get install -y haproxy)", flush=True)
    if not _apt("install", "-y", "-q", "haproxy"):
        _apt("update", "-q")  # a fresh machine has no package lists yet
        _apt("install", "-y", "-q", "haproxy", check=True)
    found = shutil.which("haproxy") or "/usr/sbin/haproxy"
    return found


def _apt(*args: str, check: bool = False) -> bool:
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    done = subprocess.run(
        ["apt-get", *args], check=check, env=env, capture_output=True, timeout=600
    )
    return done.returncode == 0


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"haproxy exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"haproxy not listening on {port} after {timeout}s")


def max_proxied_connections() -> int:
    """What one HAProxy process can hold: two descriptors per connection, some to spare."""
    limit = raise_open_files()
    return max(100, (limit - 200) // 2)


@contextlib.contextmanager
def haproxy(backends: list[int], maxconn: int | None = None) -> Iterator[int]:
    """Run HAProxy in front of `backends` (ports); yields its port; kills it afterwards."""
    binary = ensure_installed()
    maxconn = min(maxconn or max_proxied_connections(), max_proxied_connections())
    port = free_port()
    servers = "\n".join(
        f"    server gw{i} 127.0.0.1:{p} maxconn {maxconn}" for i, p in enumerate(backends)
    )
    workdir = Path(tempfile.mkdtemp(prefix="zephyr-haproxy-"))
    config = workdir / "haproxy.cfg"
    config.write_text(CONFIG.format(maxconn=maxconn, port=port, servers=servers))
    log = (workdir / "haproxy.log").open("ab")
    # Two descriptors per proxied connection: lift the limit in the child before exec.
    proc = subprocess.Popen(
        [binary, "-db", "-f", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=raise_open_files,
    )
    try:
        _wait_listening(port, proc)
        yield port
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        log.close()
