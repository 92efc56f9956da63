"""Hang a private server without killing it: SIGSTOP its whole process tree, SIGCONT after.

A stopped server keeps its sockets open and its kernel keeps accepting TCP connections, so a
client sees no error, only silence: the case timeouts exist for (docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

from tests.fault.servers import PrivatePostgres, PrivateRabbit, PrivateRedis


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def process_tree(root: int) -> list[int]:
    """`root` and every process below it, parents first."""
    children = _children()
    tree, todo = [], [root]
    while todo:
        pid = todo.pop(0)
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def server_pid(server: PrivatePostgres | PrivateRabbit | PrivateRedis) -> int:
    if isinstance(server, PrivatePostgres):
        return int((server.data / "postmaster.pid").read_text().splitlines()[0])
    assert server.proc is not None and server.proc.poll() is None, "server not running"
    return server.proc.pid


@contextlib.contextmanager
def paused(server: PrivatePostgres | PrivateRabbit | PrivateRedis) -> Iterator[list[int]]:
    """The server hangs inside the block (every process of it stopped), and resumes after."""
    pids = process_tree(server_pid(server))
    stopped: list[int] = []
    try:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
        deadline = time.monotonic() + 5
        while any(_state(pid) not in ("T", "gone") for pid in stopped):
            assert time.monotonic() < deadline, "the server's processes did not stop"
            time.sleep(0.01)
        yield stopped
    finally:
        for pid in reversed(stopped):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def _state(pid: int) -> str:
    """The kernel's one-letter state of a process (T: stopped), or "gone"."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def stopped_now(pids: list[int]) -> bool:
    return bool(pids) and all(_state(pid) in ("T", "gone") for pid in pids)
