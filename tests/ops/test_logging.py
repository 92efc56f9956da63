"""Logs: shipping that never hurts the service, and the level changed at run time."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.ops.journey import log_lines
from tests.support.eventually import eventually_sync
from tests.support.isolation import Resources
from tests.support.procs import ServiceProcess, Stack, free_port
from zephyr_runtime.jsonlog import JsonFormatter, correlation_id_var
from zephyr_runtime.loglevel import LogLevelWatcher
from zephyr_runtime.logship import LogShipper, parse_ship_url


@pytest.fixture
def local_log() -> Iterator[io.StringIO]:
    """The root logger writing JSON to a buffer (the 'local' destination); restored after."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter("test-svc"))
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    try:
        yield buffer
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


class LineCollector:
    """A TCP log collector on 127.0.0.1 that keeps the lines it receives."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            buffer = b""
            while chunk := conn.recv(65536):
                buffer += chunk
                *complete, buffer = buffer.split(b"\n")
                self.lines.extend(line.decode() for line in complete)

    def close(self) -> None:
        self.sock.close()


@contextmanager
def shipping_to(port: int) -> Iterator[LogShipper]:
    """The root logger also shipping to 127.0.0.1:`port` while the block runs."""
    shipper = LogShipper(f"tcp://127.0.0.1:{port}", JsonFormatter("test-svc"))
    logging.getLogger().addHandler(shipper.handler)
    try:
        yield shipper
    finally:
        logging.getLogger().removeHandler(shipper.handler)
        shipper.stop()


def test_ship_url_is_checked() -> None:
    assert parse_ship_url("tcp://collector:5170") == ("collector", 5170)
    for bad in ("udp://x:1", "tcp://x", "http://x:80"):
        with pytest.raises(ValueError, match="tcp://host:port"):
            parse_ship_url(bad)


def test_shipped_lines_carry_the_correlation_id(local_log: io.StringIO) -> None:
    collector = LineCollector()
    token = correlation_id_var.set("ship-123")
    try:
        with shipping_to(collector.port):
            logging.getLogger("t").info("hello collector")
            eventually_sync(lambda: collector.lines)
    finally:
        correlation_id_var.reset(token)
        collector.close()
    shipped = json.loads(collector.lines[0])
    assert shipped["msg"] == "hello collector"
    assert shipped["correlation_id"] == "ship-123" and shipped["service"] == "test-svc"
    assert "hello collector" in local_log.getvalue()


def test_a_dead_collector_never_stops_local_logging(local_log: io.StringIO) -> None:
    with shipping_to(free_port()):  # nothing listens there
        for i in range(200):
            logging.getLogger("t").warning("line %d", i)
    local = [json.loads(line) for line in local_log.getvalue().splitlines()]
    assert [entry["msg"] for entry in local] == [f"line {i}" for i in range(200)]


def test_collector_dying_mid_run_loses_only_the_shipped_copies(local_log: io.StringIO) -> None:
    collector = LineCollector()
    log = logging.getLogger("t")
    with shipping_to(collector.port):
        log.info("before")
        eventually_sync(lambda: collector.lines)
        collector.close()
        for i in range(50):
            log.info("after %d", i)
    messages = [json.loads(line)["msg"] for line in local_log.getvalue().splitlines()]
    assert messages == ["before", *(f"after {i}" for i in range(50))]


def test_the_watcher_applies_a_changed_level_file(tmp_path: Path, local_log: io.StringIO) -> None:
    path = tmp_path / "level"
    path.write_text("INFO\n")
    watcher = LogLevelWatcher(path, interval=0.05)
    assert watcher.check() is None  # unchanged since it was created
    path.write_text("DEBUG\n")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    assert watcher.check() == "DEBUG"
    assert logging.getLogger().level == logging.DEBUG
    path.write_text("LOUD\n")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 2_000_000))
    assert watcher.check() is None  # not a level: ignored, the level stays
    assert logging.getLogger().level == logging.DEBUG


@pytest.mark.e2e
def test_a_running_service_changes_its_log_level_without_restart(
    ops_resources: Resources, tmp_path: Path
) -> None:
    level_file = tmp_path / "poll-api.level"
    level_file.write_text("WARNING\n")
    stack = Stack(env=ops_resources.env(), log_dir=tmp_path)
    api: ServiceProcess = stack.add(
        "poll_api", "poll_api", {"POLL_API_LOG_LEVEL_FILE": str(level_file)}
    )
    api.start()
    try:
        api.wait_ready()

        def create(question: str) -> None:
            body = {"question": question, "options": ["a", "b"]}
            assert httpx.post(f"{api.url}/api/polls", json=body, timeout=10).status_code == 201

        def created_lines() -> list[str]:
            return [
                line["poll_id"] for line in log_lines(stack) if line.get("msg") == "poll created"
            ]

        create("quiet?")
        assert created_lines() == []  # INFO is below WARNING
        level_file.write_text("INFO\n")
        deadline = time.monotonic() + 30
        while not created_lines():
            assert time.monotonic() < deadline, api.tail()
            create("loud?")
            time.sleep(0.5)
        assert api.proc is not None and api.proc.poll() is None  # the same process
        changed = [
            line for line in log_lines(stack) if line.get("msg") == "log level changed to INFO"
        ]
        assert changed and changed[0]["service"] == "poll-api"
    finally:
        assert api.stop() == 0, api.tail()


def test_invalid_ship_url_refuses_to_start(ops_resources: Resources) -> None:
    env = {**os.environ, **ops_resources.env(), "ZEPHYR_LOG_SHIP_URL": "udp://nope"}
    done = subprocess.run(
        [sys.executable, "-m", "poll_api", "migrate"], env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 2
    assert b"LOG_SHIP_URL" in done.stderr and b"Traceback" not in done.stderr
