"""Load generator processes: each holds a share of the participants and runs commands.

The parent (a scenario) starts `LoadGen(specs)`: one process per spec, each opening its
connections concurrently (bounded by a semaphore), joining, then answering commands one at a
time: `votes` (a steady rate), `burst` (every participant votes once), `probe`, `converge`,
`words_burst` and `words_converge` (bench/wordload.py), `snapshot` and `close`. Times are
`time.monotonic()`, which is one clock for every process of the machine, so a send time in one
process and an arrival time in another can be compared.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import multiprocessing as mp
import queue
import random
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench.client import Screen
from bench.limits import raise_open_files
from bench.rawclient import LeanScreen
from bench.wordload import words_burst, words_converge

CONNECT_CONCURRENCY = 100
JOIN_ATTEMPTS = 8


def _reason(exc: BaseException) -> str:
    """A short label: the error code of a refused join, else the exception's type."""
    text = str(exc)
    if "'code': '" in text:
        return text.split("'code': '", 1)[1].split("'", 1)[0]
    return type(exc).__name__


COMMAND_TIMEOUT = 900.0


@dataclass
class WorkerSpec:
    index: int
    url: str
    count: int  # participants in this process
    nick_prefix: str
    trace_every: int = 0  # keep a (time, total) history of every n-th screen (0: none)
    seed: int = 0
    lean: bool = False  # receive-only frame counters (rawclient) instead of full clients


# ---- inside a load generator process -------------------------------------------------------


class Worker:
    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed * 7919 + spec.index)
        self.screens: list[Screen] = []
        self.lean: list[LeanScreen] = []

    async def open_all(self) -> dict[str, Any]:
        spec = self.spec
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        self.screens = [
            Screen(
                spec.url,
                f"{spec.nick_prefix}{spec.index}-{i}",
                trace=spec.trace_every > 0 and i % spec.trace_every == 0,
            )
            for i in range(spec.count)
        ]
        failures: Counter[str] = Counter()
        if spec.lean:
            self.lean = [
                LeanScreen(spec.url, f"{spec.nick_prefix}{spec.index}-{i}")
                for i in range(spec.count)
            ]

        async def open_one(screen: Screen | LeanScreen) -> float | None:
            async with gate:
                # A refused join (`unavailable` while the gateway sheds load) is retried after a
                # growing pause, as a real client would; each refusal is counted.
                for attempt in range(JOIN_ATTEMPTS):
                    started = time.monotonic()
                    try:
                        await screen.open()
                        return time.monotonic() - started
                    except Exception as exc:
                        failures[_reason(exc)] += 1
                        await screen.close()
                        await asyncio.sleep(min(5.0, 0.5 * 2**attempt) * self.rng.uniform(0.5, 1))
                return None

        started = time.monotonic()
        if spec.lean:
            took = await asyncio.gather(*(open_one(s) for s in self.lean))
            self.lean = [s for s, t in zip(self.lean, took, strict=True) if t is not None]
            self.screens = []
            joined = len(self.lean)
        else:
            took = await asyncio.gather(*(open_one(s) for s in self.screens))
            self.screens = [s for s, t in zip(self.screens, took, strict=True) if t is not None]
            joined = len(self.screens)
        for screen in self.screens:  # refusals while joining are reported here, not as votes
            screen.errors.clear()
        return {
            "joined": joined,
            "seconds": time.monotonic() - started,
            "join_latency": [t for t in took if t is not None],
            "failures": dict(failures),
        }

    # -- commands --

    async def votes(self, p: dict[str, Any]) -> dict[str, Any]:
        """Votes at `rate`/s from random participants for `duration` s from `start_at`."""
        await _sleep_until(p["start_at"])
        options: list[int] = p["options"]
        rate, duration = float(p["rate"]), float(p["duration"])
        started = time.monotonic()
        sent = 0
        per_second: Counter[int] = Counter()
        while (now := time.monotonic()) - started < duration:
            due = int((now - started) * rate) - sent
            for _ in range(due):
                screen = self.rng.choice(self.screens)
                await screen.vote(self.rng.choice(options), self._mixed_answer(p))
                sent += 1
                per_second[int(now - started)] += 1
            await asyncio.sleep(0.005)
        return {"sent": sent, **await self._answers(p.get("answer_timeout", 60))}

    def _mixed_answer(self, p: dict[str, Any]) -> dict[str, Any] | None:
        """With `mixed` (scenario mixed): a third of the answers go to question 1 (multiple
        choice, 1 to 2 of 4) and a third to question 2 (ranking, 3 of 4); else None."""
        if not p.get("mixed"):
            return None
        pick = self.rng.randrange(3)
        if pick == 1:
            return {"question": 1, "options": self.rng.sample(range(4), self.rng.randint(1, 2))}
        if pick == 2:
            return {"question": 2, "ranking": self.rng.sample(range(4), 3)}
        return None

    async def burst(self, p: dict[str, Any]) -> dict[str, Any]:
        """Every participant votes once at a random moment within `spread` s of `start_at`."""
        options: list[int] = p["options"]
        start_at, spread = float(p["start_at"]), float(p["spread"])
        plan = sorted((self.rng.uniform(0, spread), i) for i in range(len(self.screens)))
        # Votes start once this process's screens know the poll is open (bounded wait).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(s.status != "open" for s in self.screens):
            await asyncio.sleep(0.01)
        start_at = max(start_at, time.monotonic())
        await _sleep_until(start_at)
        send_times: list[float] = []
        for offset, i in plan:
            delay = start_at + offset - time.monotonic()
            if delay > 0.001:
                await asyncio.sleep(delay)
            send_times.append(time.monotonic())
            await self.screens[i].vote(self.rng.choice(options))
        answers = await self._answers(p.get("answer_timeout", 120))
        return {"sent": len(send_times), "send_times": send_times, **answers}

    async def probe(self, p: dict[str, Any]) -> dict[str, Any]:
        """Vote-to-screen latency, exactly: probe i alone votes option `probe_options[i]`.

        Probe i alternates between its own option and a regular one, one vote at a time, so the
        count of its option on any screen is exactly 1 or 0. The latency of a probe vote at an
        observer (another participant of this process) is the time from its send to the first
        tally frame at that observer showing the expected value.
        """
        await _sleep_until(p["start_at"])
        probe_options: list[int] = p["probe_options"]
        regular: list[int] = p["regular_options"]
        duration, settle = float(p["duration"]), float(p.get("settle", 5.0))
        probes = self.screens[: len(probe_options)]
        observers = self.screens[len(probe_options) :][: int(p.get("observers", 50))]
        latencies: list[float] = []
        first_screen: list[float] = []
        timeouts = 0
        waiting: dict[int, tuple[int, int, float, set[int], asyncio.Future[None]]] = {}

        def on_tally(screen: Screen, now: float, counts: list[int]) -> None:
            for _probe, (option, expected, sent_at, pending, done) in list(waiting.items()):
                key = id(screen)
                if key in pending and option < len(counts) and counts[option] == expected:
                    pending.discard(key)
                    latencies.append(now - sent_at)
                    if len(pending) == len(observers) - 1:
                        first_screen.append(now - sent_at)
                    if not pending and not done.done():
                        done.set_result(None)

        for observer in observers:
            observer.on_tally = on_tally
        ends = time.monotonic() + duration

        async def run_probe(i: int) -> None:
            nonlocal timeouts
            screen, own = probes[i], probe_options[i]
            on_own = False
            while time.monotonic() < ends:
                on_own = not on_own
                done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                pending = {id(o) for o in observers}
                waiting[i] = (own, 1 if on_own else 0, time.monotonic(), pending, done)
                await screen.vote(own if on_own else self.rng.choice(regular))
                try:
                    await asyncio.wait_for(done, settle)
                except TimeoutError:
                    timeouts += 1
                waiting.pop(i, None)
                await asyncio.sleep(self.rng.uniform(0, 0.05))

        await asyncio.gather(*(run_probe(i) for i in range(len(probes))))
        for observer in observers:
            observer.on_tally = None
        return {
            "latencies": latencies,
            "first_screen": first_screen,
            "timeouts": timeouts,
            "observers": len(observers),
            **await self._answers(30),
        }

    async def converge(self, p: dict[str, Any]) -> dict[str, Any]:
        """Wait (bounded) until every screen shows `counts`; when each first showed them."""
        expected: list[int] = p["counts"]
        deadline = time.monotonic() + float(p.get("timeout", 30))
        while time.monotonic() < deadline:
            if all(s.counts == expected for s in self.screens):
                break
            await asyncio.sleep(0.05)
        agree = [s for s in self.screens if s.counts == expected]
        wrong: Counter[str] = Counter(str(s.counts) for s in self.screens if s.counts != expected)
        return {
            "screens": len(self.screens),
            "agree": len(agree),
            "final_at": [s.changed_at for s in agree],
            "disagree": dict(wrong.most_common(5)),
            "traces": [s.trace for s in self.screens if s.trace is not None],
        }

    async def quiz_wait(self, p: dict[str, Any]) -> dict[str, Any]:
        """Wait (bounded) until every screen has the leaderboard and its own quiz_result, of
        at least `version` when given (the final scoring, after late answers rescored)."""
        deadline = time.monotonic() + float(p.get("timeout", 60))
        version = int(p.get("version", 0))

        def waiting(s: Screen) -> bool:
            result = s.quiz_result
            return s.leaderboard_at is None or result is None or result["version"] < version

        while time.monotonic() < deadline and any(waiting(s) for s in self.screens):
            await asyncio.sleep(0.05)
        return {
            "screens": len(self.screens),
            "leaderboard_at": [s.leaderboard_at for s in self.screens if s.leaderboard_at],
            "quiz_result_at": [s.quiz_result_at for s in self.screens if s.quiz_result_at],
            "quiz_result_latest_at": [
                s.quiz_result_latest_at for s in self.screens if s.quiz_result_latest_at
            ],
            "versions": sorted({s.quiz_result["version"] for s in self.screens if s.quiz_result}),
            "results": {
                s.participant_id: [s.quiz_result["score"], s.quiz_result["rank"]]
                for s in self.screens
                if s.quiz_result is not None and s.participant_id is not None
            },
        }

    async def first_after(self, p: dict[str, Any]) -> dict[str, Any]:
        """Per lean screen, when its first tally frame at or after `since` came; waits (up to
        `timeout`) until every open screen has one. `missing`: the screens that had none."""
        since, deadline = p["since"], time.monotonic() + p["timeout"]

        def first(s: LeanScreen) -> float | None:
            i = bisect.bisect_left(s.arrivals, since)  # arrivals are in time order
            return s.arrivals[i] if i < len(s.arrivals) else None

        while time.monotonic() < deadline and any(
            not s.closed and (not s.arrivals or s.arrivals[-1] < since) for s in self.lean
        ):
            await asyncio.sleep(0.01)
        times = [first(s) for s in self.lean]
        return {
            "at": [t for t in times if t is not None],
            "missing": sum(t is None for t in times),
        }

    async def snapshot(self, _p: dict[str, Any]) -> dict[str, Any]:
        everyone: list[Screen | LeanScreen] = [*self.screens, *self.lean]
        return {
            "at": time.monotonic(),
            "frames": sum(s.frames for s in everyone),
            "open": sum(not s.closed for s in everyone),
        }

    async def _answers(self, timeout: float) -> dict[str, Any]:
        """Wait (bounded) for every vote's reply, then hand over and reset the vote records."""
        deadline = time.monotonic() + timeout
        # Refusals (error frames) carry no client_vote_id: a screen is done when every vote it
        # sent is either accepted or matched by a refusal.
        while time.monotonic() < deadline and any(
            len(s.sent) > s.errors.total() and not s.closed for s in self.screens
        ):
            await asyncio.sleep(0.05)
        result: dict[str, Any] = {
            "accepted_ids": [i for s in self.screens for i in s.accepted_ids],
            "accept_latency": [x for s in self.screens for x in s.accept_latency],
            "errors": dict(sum((s.errors for s in self.screens), Counter())),
            "unanswered": sum(max(0, len(s.sent) - s.errors.total()) for s in self.screens),
        }
        for s in self.screens:
            s.accepted_ids, s.accept_latency, s.errors = [], [], Counter()
            s.sent.clear()
        return result

    async def words_burst(self, p: dict[str, Any]) -> dict[str, Any]:
        return await words_burst(self, p)  # bench/wordload.py

    async def words_converge(self, p: dict[str, Any]) -> dict[str, Any]:
        return await words_converge(self, p)

    async def close(self, _p: dict[str, Any]) -> dict[str, Any]:
        everyone: list[Screen | LeanScreen] = [*self.screens, *self.lean]
        await asyncio.gather(*(s.close() for s in everyone))
        return {"closed": len(everyone)}


async def _sleep_until(at: float) -> None:
    delay = at - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


async def _serve(spec: WorkerSpec, commands: Any, replies: Any) -> None:
    worker = Worker(spec)
    replies.put((spec.index, "ready", await worker.open_all()))
    while True:
        name, params = await asyncio.to_thread(commands.get)
        handler = getattr(worker, name)
        try:
            result = await handler(params)
        except Exception as exc:
            replies.put((spec.index, "failed", repr(exc)))
            continue
        replies.put((spec.index, name, result))
        if name == "close":
            return


def worker_main(spec: WorkerSpec, commands: Any, replies: Any) -> None:
    raise_open_files()
    try:
        import uvloop

        uvloop.run(_serve(spec, commands, replies))
    except ImportError:
        asyncio.run(_serve(spec, commands, replies))


# ---- in the scenario (parent) process ------------------------------------------------------


class LoadGen:
    """Starts the load generator processes and talks to them."""

    def __init__(self, specs: list[WorkerSpec]) -> None:
        ctx = mp.get_context("spawn")
        self.specs = specs
        self._replies = ctx.Queue()
        self._commands = [ctx.Queue() for _ in specs]
        self._procs = [
            ctx.Process(
                target=worker_main, args=(spec, cmds, self._replies), daemon=True, name="loadgen"
            )
            for spec, cmds in zip(specs, self._commands, strict=True)
        ]

    async def start(self, timeout: float = 600) -> dict[str, Any]:
        """Start every process; returns the join figures once all have joined."""
        for proc in self._procs:
            proc.start()
        ready = await self._gather("ready", timeout)
        latencies = [x for r in ready for x in r["join_latency"]]
        failures: Counter[str] = Counter()
        for r in ready:
            failures.update(r["failures"])
        return {
            "joined": sum(r["joined"] for r in ready),
            "seconds": max(r["seconds"] for r in ready),
            "join_latency": latencies,
            "failures": dict(failures),
        }

    async def command(
        self,
        name: str | list[str],
        params: dict[str, Any] | list[dict[str, Any]],
        timeout: float | None = None,
    ) -> list[dict[str, Any]]:
        """Send a command to every process (one name/params for all, or one each); answers."""
        names = name if isinstance(name, list) else [name] * len(self.specs)
        each = params if isinstance(params, list) else [params] * len(self.specs)
        for cmds, n, p in zip(self._commands, names, each, strict=True):
            cmds.put((n, p))
        return await self._gather("/".join(sorted(set(names))), timeout or COMMAND_TIMEOUT)

    async def _gather(self, name: str, timeout: float) -> list[dict[str, Any]]:
        answers: dict[int, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while len(answers) < len(self.specs):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"load generators did not answer {name!r} in {timeout}s")
            try:
                index, kind, result = await asyncio.to_thread(self._replies.get, True, 1.0)
            except queue.Empty:
                dead = [p for p in self._procs if not p.is_alive()]
                if dead and len(answers) < len(self.specs):
                    raise RuntimeError(f"a load generator died ({dead[0].exitcode})") from None
                continue
            if kind == "failed":
                raise RuntimeError(f"load generator {index} failed {name!r}: {result}")
            answers[index] = result
        return [answers[i] for i in sorted(answers)]

    async def stop(self) -> None:
        """Close every connection and end every process (bounded)."""
        alive = [p for p in self._procs if p.is_alive()]
        if alive:
            with contextlib.suppress(TimeoutError, RuntimeError):
                await self.command("close", {}, timeout=60)
        for proc in self._procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)


def split(total: int, parts: int) -> list[int]:
    """`total` participants over `parts` processes, as evenly as possible."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]
