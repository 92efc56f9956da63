"""What a rolling update asks of the supervisor: start a next process, promote it, discard it.

`make deploy` (deploy.py) sends these through the control socket (deploy_control.py); they run
on the supervisor's own thread, between supervision rounds, so no lock is needed.

- `begin`: take the deploy lock (one deploy at a time); `end` (the connection closed) releases
  it and discards any next process that session started but did not promote.
- `status`: every service's processes (what stack.json shows); `env`: a service's settings.
- `spawn_next {service, release, overrides}`: start a process of that release beside the current
  one, on its own private port; it is not restarted if it exits (the deploy sees it exited).
- `promote {service}`: the public port's route moves to the next process, which becomes the
  supervised one (its restart history starts afresh, even after a crash loop was given up);
  the old one gets SIGTERM and drains.
- `discard {service}`: SIGTERM the next process.
"""

from __future__ import annotations

import signal
import time
from typing import Any

import deploy_release
from supervisor import FIRST_DELAY_S, RETIRE_GRACE_S, Process, Service, Supervisor, say


class Swaps:
    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        self.deploying: int | None = None  # the control session holding the deploy lock

    def handle(self, request: dict[str, Any], session: int) -> dict[str, Any]:
        op = request.get("op")
        if op == "status":
            return {"ok": True, "services": self.supervisor.state()}
        if op == "end":
            return self._end(session)
        if op == "begin":
            if self.deploying not in (None, session):
                return {"ok": False, "error": "another deploy is running"}
            self.deploying = session
            return {"ok": True}
        if self.deploying != session:
            return {"ok": False, "error": f"{op!r} needs the deploy lock (send begin first)"}
        svc = self.supervisor.services.get(str(request.get("service")))
        if svc is None:
            return {"ok": False, "error": f"unknown service {request.get('service')!r}"}
        if op == "env":
            env = svc.environment(svc.overrides)
            return {"ok": True, "env": env, "overrides": svc.overrides, "release": svc.release.id}
        if op == "spawn_next":
            return self._spawn_next(svc, request, session)
        if op == "promote":
            return self._promote(svc)
        if op == "discard":
            return self._discard(svc)
        return {"ok": False, "error": f"unknown op {op!r}"}

    def _spawn_next(self, svc: Service, request: dict[str, Any], session: int) -> dict[str, Any]:
        if svc.next is not None:
            return {"ok": False, "error": f"{svc.name} already has a next process"}
        release = deploy_release.load(self.supervisor.releases, str(request["release"]))
        overrides = {str(k): str(v) for k, v in dict(request.get("overrides") or {}).items()}
        nxt = svc.next = svc.spawn(release, overrides)
        nxt.session = session
        say(f"{svc.name}: next process of release {release.id} started (pid {nxt.proc.pid})")
        self.supervisor.on_change()
        return {"ok": True, **nxt.describe()}

    def _promote(self, svc: Service) -> dict[str, Any]:
        nxt = svc.next
        if nxt is None or nxt.proc.poll() is not None:
            return {"ok": False, "error": f"{svc.name} has no running next process"}
        self.supervisor.route(
            svc.name, nxt.port
        )  # new connections reach the new process from now on
        old = svc.current
        svc.current, svc.next = nxt, None
        svc.release = deploy_release.load(self.supervisor.releases, nxt.release)
        svc.overrides = dict(nxt.overrides)
        nxt.session = None
        svc.restart_at, svc.awaiting_ready, svc.given_up = None, False, False
        svc.exits.clear()
        svc.delay = FIRST_DELAY_S
        old_pid = self._retire(svc, old)
        drained = f"draining pid {old_pid}" if old_pid else "the old process had exited"
        say(f"{svc.name} now runs release {nxt.release} (pid {nxt.proc.pid}); {drained}")
        self.supervisor.on_change()
        return {"ok": True, "pid": nxt.proc.pid, "old_pid": old_pid}

    def _discard(self, svc: Service) -> dict[str, Any]:
        nxt, svc.next = svc.next, None
        if nxt is None:
            return {"ok": True, "pid": None}
        self._retire(svc, nxt)
        say(f"{svc.name}: next process (pid {nxt.proc.pid}) discarded")
        self.supervisor.on_change()
        return {"ok": True, "pid": nxt.proc.pid}

    def _retire(self, svc: Service, process: Process | None) -> int | None:
        if process is None or process.proc.poll() is not None:
            return None
        process.proc.send_signal(signal.SIGTERM)
        process.kill_at = time.monotonic() + RETIRE_GRACE_S
        svc.retiring.append(process)
        return process.proc.pid

    def _end(self, session: int) -> dict[str, Any]:
        """The deploy's connection closed: release the lock, stop what it left unpromoted."""
        if self.deploying == session:
            self.deploying = None
        for svc in self.supervisor.services.values():
            if svc.next is not None and svc.next.session == session:
                self._discard(svc)
        return {"ok": True}
