"""`make deploy`: a rolling update of the running `make run` stack to the code checked out now.

    python infra/scripts/deploy.py [--only SERVICE,...] [--env [SERVICE:]KEY=VALUE ...]
                                   [--ready-timeout S] [--smoke-timeout S] [--drain-timeout S]

1. Snapshot the checkout into a new release (deploy_release.py) and take the deploy lock.
2. Run every table owner's migrations from the new release. They must be backward compatible
   with the running version (expand now, contract in a later release: docs/operations.md).
3. Per service, in start order (poll-api, vote-worker, audit-sink, ws-gateway), one at a time:
   start the new process beside the old one (its own private port), wait for its
   `/health/ready`, and
   - poll-api, ws-gateway: run the smoke check (infra/scripts/smoke.py: a poll, a join, a vote,
     its tally) through the new process's private port, then move the public port to it and
     drain the old one (SIGTERM: the gateway closes its sockets with 1012, participants resume
     through the public port, on the new gateway);
   - vote-worker, audit-sink (queue consumers, nothing to route): drain the old one first, then
     run the smoke check through the public ports, with the new process the only consumer.
4. A failure (the new process exits, is not ready in time, or fails its smoke check) stops the
   new process (the old one kept serving) or, once the old one was drained, starts the previous
   release again in its place; then every service this run already replaced is rolled back
   the same way, last first.

Exit status: 0 every service runs the new release; 1 it failed and was rolled back (the reason
is printed: the previous release serves); 2 nothing was changed (no running stack, another
deploy, bad arguments, a failed migration); 3 the roll back failed too: see the lines above.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import deploy_release
import httpx
import websockets
from deploy_control import ControlClient, NoStack
from smoke import SmokeFailed, check

ROOT = Path(__file__).resolve().parents[2]
RUN_DIR = Path(os.environ.get("ZEPHYR_RUN_DIR") or ROOT / ".run")
ORDER = ["poll_api", "vote_worker", "audit_sink", "ws_gateway"]
ROUTED = {"poll_api", "ws_gateway"}  # served through the public port: checked before the switch
MIGRATING = ["poll_api", "vote_worker", "audit_sink"]
EXIT_OK, EXIT_ROLLED_BACK, EXIT_UNCHANGED, EXIT_ROLLBACK_FAILED = 0, 1, 2, 3


def say(line: str) -> None:
    print(f"[deploy] {line}", flush=True)


class StepFailed(Exception):
    def __init__(self, reason: str, *, promoted: bool) -> None:
        super().__init__(reason)
        self.promoted = promoted  # the old process was already drained
        self.reported = False  # its FAIL line was printed


@dataclass
class Limits:
    ready: float
    smoke: float
    drain: float


@dataclass
class Version:
    release: str
    overrides: dict[str, str]


class Deploy:
    def __init__(self, client: ControlClient, limits: Limits) -> None:
        self.client = client
        self.limits = limits

    def call(self, op: str, **fields: Any) -> dict[str, Any]:
        answer = self.client.call(op, **fields)
        if not answer.get("ok"):
            raise StepFailed(str(answer.get("error")), promoted=False)
        return answer

    def services(self) -> dict[str, Any]:
        services: dict[str, Any] = self.call("status")["services"]
        return services

    def public(self, scheme: str, name: str) -> str:
        return f"{scheme}://127.0.0.1:{self.services()[name]['public_port']}"

    def migrate(self, release: deploy_release.Release, extra: dict[str, dict[str, str]]) -> None:
        for name in MIGRATING:
            env = {**self.call("env", service=name)["env"], **extra.get(name, {})}
            env["PYTHONPATH"] = release.pythonpath
            done = subprocess.run(
                [sys.executable, "-m", name, "migrate"],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            if done.returncode != 0:
                tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
                raise StepFailed(f"{name} migrations failed:\n{tail}", promoted=False)
            say(f"{name}: migrations applied")

    def swap(self, name: str, version: Version) -> None:
        """Replace `name`'s process by one of `version`; StepFailed says why it did not."""
        nxt = self.call("spawn_next", service=name, **version.__dict__)
        pid, port = nxt["pid"], nxt["port"]
        say(f"{name}: started pid {pid} (release {version.release}) on port {port}")
        try:
            self._wait_ready(name, pid, port)
            if name in ROUTED:
                self._smoke(name, pid, port)
        except StepFailed as failed:
            say(f"FAIL {name}: {failed}")
            failed.reported = True
            self.call("discard", service=name)
            say(f"{name}: stopped pid {pid}; the old process kept serving")
            raise
        promoted = self.call("promote", service=name)
        old = promoted["old_pid"]
        drained = f"draining pid {old}" if old else "the old process had exited"
        say(f"{name}: public port now reaches pid {pid}; {drained}")
        self._wait_drained(name, old)
        if name not in ROUTED:
            try:
                consumed = consumed_messages(port)
                self._smoke(name, pid, None)
                self._wait_consumed(name, pid, port, consumed)
            except StepFailed as failed:
                say(f"FAIL {name}: {failed} (the old process has drained)")
                again = StepFailed(str(failed), promoted=True)
                again.reported = True
                raise again from None

    def _wait_consumed(self, name: str, pid: int, port: int, before: float) -> None:
        """A consumer's smoke check counts only if the new process took messages meanwhile."""
        deadline = time.monotonic() + self.limits.smoke
        while consumed_messages(port) <= before:
            if time.monotonic() > deadline:
                raise StepFailed(f"pid {pid} consumed no message of the smoke check", promoted=True)
            time.sleep(0.2)
        say(f"{name}: pid {pid} consumed the smoke check's messages")

    def _wait_ready(self, name: str, pid: int, port: int) -> None:
        started = time.monotonic()
        deadline = started + self.limits.ready
        last = "no answer"
        while time.monotonic() < deadline:
            nxt = self.services()[name]["next"]
            if nxt is None or nxt["exited"] is not None:
                code = nxt["exited"] if nxt else "unknown"
                raise StepFailed(f"pid {pid} exited with {code} while starting", promoted=False)
            try:
                resp = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2)
                if resp.status_code == 200:
                    say(f"{name}: pid {pid} ready after {time.monotonic() - started:.1f} s")
                    return
                last = f"{resp.status_code} {resp.text[:200]}"
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}"
            time.sleep(0.25)
        raise StepFailed(
            f"pid {pid} not ready within {self.limits.ready:g} s (last answer: {last})",
            promoted=False,
        )

    def _smoke(self, name: str, pid: int, port: int | None) -> None:
        """The smoke check through the new process: its own port when it has a route."""
        api = f"http://127.0.0.1:{port}" if name == "poll_api" else self.public("http", "poll_api")
        ws = f"ws://127.0.0.1:{port}" if name == "ws_gateway" else self.public("ws", "ws_gateway")
        try:
            asyncio.run(check(api, ws, self.limits.smoke))
        except TimeoutError:  # before OSError, its base class
            reason = f"smoke check failed: no answer within {self.limits.smoke:g} s"
            raise StepFailed(reason, promoted=False) from None
        except (SmokeFailed, OSError, httpx.HTTPError, websockets.WebSocketException) as exc:
            reason = f"smoke check failed: {type(exc).__name__}: {exc}"
            raise StepFailed(reason, promoted=False) from None
        say(f"{name}: smoke check passed through pid {pid}")

    def _wait_drained(self, name: str, old: int | None) -> None:
        if old is None:
            return
        started = time.monotonic()
        while old in self.services()[name]["draining"]:
            if time.monotonic() - started > self.limits.drain:
                say(f"{name}: pid {old} still draining after {self.limits.drain:g} s; going on")
                return
            time.sleep(0.2)
        say(f"{name}: pid {old} drained and exited after {time.monotonic() - started:.1f} s")

    def roll_back(self, done: list[tuple[str, Version]]) -> bool:
        """Put each replaced service back on its previous version, last first."""
        ok = True
        for name, previous in reversed(done):
            say(f"{name}: rolling back to release {previous.release}")
            try:
                self.swap(name, previous)
            except StepFailed as failed:
                say(f"FAIL {name}: roll back failed: {failed}")
                ok = False
        return ok


def consumed_messages(port: int) -> float:
    """`zephyr_messages_consumed_total` (every queue) from a process's own /metrics."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.HTTPError:
        return -1.0
    lines = (
        line for line in text.splitlines() if line.startswith("zephyr_messages_consumed_total")
    )
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines)


def parse_env(items: list[str]) -> dict[str, dict[str, str]]:
    """`[SERVICE:]KEY=VALUE` -> per service (no SERVICE: every service)."""
    out: dict[str, dict[str, str]] = {name: {} for name in ORDER}
    for item in items:
        key, sep, value = item.partition("=")
        service, colon, key = key.rpartition(":")
        service = service.replace("-", "_")
        if not sep or not key or (colon and service not in out):
            raise ValueError(f"bad --env {item!r}: use [SERVICE:]KEY=VALUE")
        for name in [service] if colon else ORDER:
            out[name][key] = value
    return out


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--only", default=",".join(ORDER), help="services to replace, in order")
    parser.add_argument("--env", action="append", default=[], help="[SERVICE:]KEY=VALUE")
    parser.add_argument("--ready-timeout", type=float, default=60.0)
    parser.add_argument("--smoke-timeout", type=float, default=30.0)
    parser.add_argument("--drain-timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    only = {s.strip().replace("-", "_") for s in args.only.split(",") if s.strip()}
    if not only or only - set(ORDER):
        parser.error(f"--only takes some of {', '.join(ORDER)}")
    args.services = [name for name in ORDER if name in only]
    try:
        args.overrides = parse_env(args.env)
    except ValueError as exc:
        parser.error(str(exc))  # exits 2: nothing changed
    return args


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    try:
        client = ControlClient(RUN_DIR)
    except NoStack as exc:
        say(f"FAIL {exc}")
        return EXIT_UNCHANGED
    limits = Limits(args.ready_timeout, args.smoke_timeout, args.drain_timeout)
    try:
        return rolling_update(Deploy(client, limits), args)
    except OSError as exc:  # the supervisor stopped (Ctrl-C on `make run`) or hung
        say(f"FAIL lost the supervisor mid-deploy ({exc}): see `make run`'s output")
        return EXIT_ROLLBACK_FAILED
    finally:
        client.close()  # ends the session: the supervisor stops anything left unpromoted


def rolling_update(deploy: Deploy, args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        deploy.call("begin")
        running = deploy.services()
        release = deploy_release.snapshot(ROOT, RUN_DIR / "releases")
        say(f"rolling out {release.describe()} to {', '.join(args.services)}")
        deploy.migrate(release, args.overrides)
    except StepFailed as failed:
        say(f"FAIL nothing changed: {failed}")
        return EXIT_UNCHANGED
    done: list[tuple[str, Version]] = []
    for name in args.services:
        current = deploy.call("env", service=name)
        previous = Version(current["release"], dict(current["overrides"]))
        target = Version(release.id, {**previous.overrides, **args.overrides[name]})
        try:
            deploy.swap(name, target)
        except StepFailed as failed:
            reason = f"{name}: {failed}"
            if not failed.reported:
                say(f"FAIL {reason}")
            if failed.promoted:
                done.append((name, previous))
            if not deploy.roll_back(done):
                say(f"FAIL roll back incomplete after: {reason}")
                return EXIT_ROLLBACK_FAILED
            releases = {n: running[n]["release"] for n in args.services}
            say(
                f"rolled back: {', '.join(f'{n} {r}' for n, r in releases.items())}; "
                f"reason: {reason}"
            )
            return EXIT_ROLLED_BACK
        done.append((name, previous))
    say(
        f"done: {', '.join(args.services)} run release {release.id} "
        f"({time.monotonic() - started:.0f} s)"
    )
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
