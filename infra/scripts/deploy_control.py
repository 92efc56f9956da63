"""How `make deploy` talks to the running `make run`: a Unix socket and a state file in `.run/`.

- `.run/stack.json` (written by the supervisor on every change, removed when it stops): the
  supervisor's pid, the control socket's path and, per service, the pid, private port, public
  port and release of its process, the next one being tried and the ones draining. No
  environment values (they may hold secrets).
- `.run/control.sock` (mode 0600): one JSON request per line, one JSON answer per line
  (`{"ok": true, ...}` or `{"ok": false, "error": "..."}`). Requests are queued to the
  supervisor's own thread, which alone starts and stops processes (`deploy_swaps.Swaps`).

A connection is a session: the first `begin` takes the deploy lock; when the connection closes
(the deploy ended, crashed or was killed) the lock is released and any process it started but
did not promote is stopped, so an interrupted deploy never leaves a stray process behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import queue
import socket
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

Request = dict[str, Any]
Answer = dict[str, Any]
Pending = tuple[Request, int, "Future[Answer] | None"]


class ControlServer:
    """Accepts requests on the relay's loop; `serve_pending` answers them on the caller's thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.inbox: queue.Queue[Pending] = queue.Queue()
        self._sessions = itertools.count(1)
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # left by a killed supervisor
        # Owner only from the first moment (its `env` answer holds the stack's secrets).
        previous = os.umask(0o077)
        try:
            self._server = await asyncio.start_unix_server(self._session, path=str(self.path))
        finally:
            os.umask(previous)
        os.chmod(self.path, 0o600)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = next(self._sessions)
        try:
            while line := await reader.readline():
                try:
                    request = json.loads(line)
                    if not isinstance(request, dict):
                        raise ValueError("a request is a JSON object")
                except ValueError as exc:
                    answer: Answer = {"ok": False, "error": f"bad request: {exc}"}
                else:
                    future: Future[Answer] = Future()
                    self.inbox.put((request, session, future))
                    answer = await asyncio.wrap_future(future)
                writer.write(json.dumps(answer).encode() + b"\n")
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self.inbox.put(({"op": "end"}, session, None))
            writer.close()

    def serve_pending(self, handle: Callable[[Request, int], Answer], wait: float) -> None:
        """Answer the queued requests (waiting up to `wait` s for the first one)."""
        try:
            item = self.inbox.get(timeout=wait)
        except queue.Empty:
            return
        while True:
            request, session, future = item
            try:
                answer = handle(request, session)
            except Exception as exc:  # a bad request must not stop the supervisor
                answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            if future is not None:
                future.set_result(answer)
            try:
                item = self.inbox.get_nowait()
            except queue.Empty:
                return

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Replace stack.json atomically (a reader never sees half of it)."""
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(state, indent=2, sort_keys=True))
    partial.replace(path)


class NoStack(Exception):
    """No `make run` answers: nothing to deploy to."""


class ControlClient:
    """The deploy's side: one session on the supervisor's socket."""

    def __init__(self, run_dir: Path, timeout: float = 30) -> None:
        state_file = run_dir / "stack.json"
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            missing = f"no running stack ({state_file} is missing): start it with `make run`"
            raise NoStack(missing) from None
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(state["control"])
        except OSError as exc:
            self.sock.close()
            raise NoStack(
                f"the stack in {state_file} does not answer ({exc}): start it with `make run`"
            ) from None
        self._lines = self.sock.makefile("rb")

    def call(self, op: str, **fields: Any) -> Answer:
        self.sock.sendall(json.dumps({"op": op, **fields}).encode() + b"\n")
        line = self._lines.readline()
        if not line:
            raise ConnectionError("the supervisor closed the control socket")
        answer: Answer = json.loads(line)
        return answer

    def close(self) -> None:
        self._lines.close()
        self.sock.close()
