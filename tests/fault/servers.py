"""Private PostgreSQL, RabbitMQ and Redis instances that a fault test may stop and start.

Each one runs from its own temporary directory on its own free port (RabbitMQ also under its own
node name), never touching the machine's shared servers. Every server is a child process of the
test run, stopped by its PID or its own control tool, and its directory is removed afterwards.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import redis

from tests.support.procs import free_port

PG_BIN = Path(os.environ.get("ZEPHYR_PG_BIN", "/usr/lib/postgresql/15/bin"))
RABBIT_BIN = Path(os.environ.get("ZEPHYR_RABBIT_BIN", "/usr/lib/rabbitmq/bin"))


def _wait(what: str, check: object, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except Exception as exc:
            last = exc
        time.sleep(0.2)
    tail = ""
    if log is not None and log.exists():
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
    raise RuntimeError(f"{what} did not come up within {timeout}s ({last!r})\n{tail}")


@dataclass
class _PrivateServer:
    """A server process of our own under `root`, on a free port."""

    root: Path
    port: int = field(default_factory=free_port)

    def start(self) -> _PrivateServer:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def restart(self) -> None:
        self.stop()
        self.start()


@dataclass
class PrivateRedis(_PrivateServer):
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        self.root.mkdir(parents=True, exist_ok=True)
        log = (self.root / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--dir", str(self.root),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        client = redis.Redis(port=self.port, socket_timeout=1)
        try:
            _wait("redis", client.ping, 30, self.root / "redis.log")
        finally:
            client.close()
        return self

    def stop(self, sig: int = signal.SIGKILL) -> None:
        """SIGKILL by default: with no persistence its data is gone, as after a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.proc = None


@dataclass
class PrivatePostgres(_PrivateServer):
    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str, timeout: float = 120) -> None:
        cmd = [*args]
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        if done.returncode != 0:
            log = self.root / "postgres.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {done.stderr.decode(errors='replace')}\n{tail}")

    def init(self) -> PrivatePostgres:
        # The postgres user must reach this directory: pytest's tmp dirs are private to root.
        self.root = Path(tempfile.mkdtemp(prefix="zephyr-fault-pg-"))
        os.chmod(self.root, 0o755)
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._as_postgres(
            str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "--no-sync", "-E", "UTF8",
        )  # fmt: skip
        return self

    def start(self) -> PrivatePostgres:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c fsync=off -c full_page_writes=off -c max_connections=200"
        )
        self._as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.root / "postgres.log"), "-w", "-t", "60", "start",
        )  # fmt: skip
        return self

    def stop(self, mode: str = "fast") -> None:
        """`immediate` is a crash (WAL recovery on the next start); `fast` a clean stop."""
        if (self.data / "postmaster.pid").exists():
            self._as_postgres(
                str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"
            )

    def restart(self, mode: str = "immediate") -> None:
        self.stop(mode)
        self.start()

    async def create_database(self, name: str) -> str:
        conn = await asyncpg.connect(self.admin_url, timeout=10)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"


@dataclass
class PrivateReplica(PrivatePostgres):
    """A hot standby streaming from `primary`: `pg_basebackup -R -X stream`, then started on its
    own port (initdb's pg_hba already trusts replication connections from 127.0.0.1, and
    wal_level=replica is PostgreSQL 15's default)."""

    primary: PrivatePostgres | None = None

    def init(self) -> PrivateReplica:
        assert self.primary is not None, "a replica needs its primary"
        self.root = Path(tempfile.mkdtemp(prefix="zephyr-fault-pg-replica-"))
        os.chmod(self.root, 0o755)
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._as_postgres(
            str(PG_BIN / "pg_basebackup"), "-D", str(self.data), "-R", "-X", "stream",
            "-c", "fast", "--no-sync", "-h", "127.0.0.1", "-p", str(self.primary.port),
            "-U", "postgres",
        )  # fmt: skip
        return self


@dataclass
class PrivateRabbit(_PrivateServer):
    dist_port: int = field(default_factory=free_port)
    node: str = field(default_factory=lambda: f"zephyr-fault-{uuid.uuid4().hex[:8]}@localhost")
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _env(self) -> dict[str, str]:
        plugins = self.root / "enabled_plugins"
        if not plugins.exists():
            plugins.write_text("[].\n")
        return {
            **os.environ,
            "HOME": str(self.root),  # its own Erlang cookie
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins),
            "RABBITMQ_PID_FILE": str(self.root / "rabbit.pid"),
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq"),  # none: defaults
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.root / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(self.root / "rabbitmq-env.conf"),
        }

    def start(self, timeout: float = 120) -> PrivateRabbit:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "log").mkdir(exist_ok=True)
        log_path = self.root / "server.log"
        log = log_path.open("ab")
        self.proc = subprocess.Popen(
            [str(RABBIT_BIN / "rabbitmq-server")],
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.root,
            start_new_session=True,
        )
        self._ctl(
            "wait",
            "--timeout",
            str(int(timeout)),
            str(self.root / "rabbit.pid"),
            timeout=timeout + 10,
        )
        return self

    def _ctl(self, *args: str, timeout: float = 120) -> None:
        result = subprocess.run(
            [str(RABBIT_BIN / "rabbitmqctl"), "-n", self.node, *args],
            env=self._env(),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"rabbitmqctl {' '.join(args)} failed: {result.stderr.decode(errors='replace')}"
                f"\n{(self.root / 'server.log').read_text(errors='replace')[-3000:]}"
            )

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self._ctl("stop", timeout=120)
                self.proc.wait(timeout=60)
            except (RuntimeError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        self.proc = None


@dataclass
class PrivateServers:
    root: Path
    postgres: PrivatePostgres = field(init=False)
    rabbit: PrivateRabbit = field(init=False)
    redis: PrivateRedis = field(init=False)

    def __post_init__(self) -> None:
        self.postgres = PrivatePostgres(self.root / "pg")
        self.rabbit = PrivateRabbit(self.root / "rabbit")
        self.redis = PrivateRedis(self.root / "redis")

    def start(self) -> PrivateServers:
        self.redis.start()
        self.postgres.init().start()
        self.rabbit.start()
        return self

    def stop(self) -> None:
        errors: list[BaseException] = []
        for stop in (self.rabbit.stop, self.postgres.stop, self.redis.stop):
            try:
                stop()
            except Exception as exc:
                errors.append(exc)
        shutil.rmtree(self.postgres.root, ignore_errors=True)
        shutil.rmtree(self.root, ignore_errors=True)
        if errors:
            raise errors[0]
