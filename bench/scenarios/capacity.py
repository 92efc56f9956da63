"""capacity: the highest sustained votes/s end to end, with stored == accepted and the `votes`
backlog not growing.

The offered rate rises step by step. A step is sustained when (nearly) every vote sent was
accepted with no error, every answer came, Postgres stored as many votes as were accepted
during the step, and the `votes` queue was back to (almost) empty by the end of the step.
A step whose vote_accepted p99 passes one second, or whose answers
straggle more than two seconds past its end, is queueing and not sustained either.
The figure is the accepted rate of the best sustained step.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from bench.cpu import CpuMeter
from bench.loadgen import LoadGen
from bench.scenarios.common import merged, merged_errors, rate, specs, stored_checks, wait_stored
from bench.stack import bench_stack
from bench.stats import summarize_ms

OPTIONS = 4
# A backlog a worker clears in well under a second is not growth.
BACKLOG_SLACK_MESSAGES = 20
# Votes answered within a second: beyond that they are queueing somewhere.
MAX_ACCEPT_P99_MS = 1000.0


def config(quick: bool) -> dict[str, Any]:
    if quick:
        return {"participants": 40, "procs": 2, "steps": [100, 300], "step_s": 3}
    return {
        "participants": 400,
        "procs": 2,
        # Up the ladder until two steps in a row fail (the knee), whatever the top.
        "steps": [*range(1000, 14_001, 1000), 16_000, 18_000, 20_000],
        "step_s": 10,
    }


async def run(quick: bool) -> dict[str, Any]:
    cfg = config(quick)
    steps: list[dict[str, Any]] = []
    all_accepted: list[str] = []
    async with bench_stack("capacity") as bs:
        poll = await bs.create_poll(OPTIONS)
        url = bs.ws_url(poll["room_code"])
        load = LoadGen(specs(url, cfg["participants"], cfg["procs"], "c"))
        try:
            await load.start()
            meter = CpuMeter.of(bs, load)
            await bs.wait_queues_empty("participants", "audit")
            for offered in cfg["steps"]:
                before = meter.sample()
                step = await _step(bs, load, poll["id"], offered, cfg, len(all_accepted))
                step["cpu_ms_per_vote"] = meter.per_unit_ms(
                    before, meter.sample(), len(step["accepted_ids"])
                )
                all_accepted.extend(step.pop("accepted_ids"))
                steps.append(step)
                print(f"[bench] capacity step {offered}/s: {_brief(step)}", flush=True)
                if not step["sustained"] and len(steps) >= 2 and not steps[-2]["sustained"]:
                    break  # two failed steps in a row: past the knee
            await wait_stored(bs, poll["id"], len(all_accepted))
            checks = await stored_checks(bs, poll["id"], all_accepted, OPTIONS)
        finally:
            await load.stop()
    sustained = [s for s in steps if s["sustained"]]
    best = max(sustained, key=lambda s: s["accepted_per_s"]) if sustained else None
    figures = {
        "sustained_votes_per_second": best["accepted_per_s"] if best else 0.0,
        "best_step_offered": best["offered_per_s"] if best else None,
        "best_step_accept_latency": best["accept_latency"] if best else None,
        "knee_offered_per_s": _knee(steps),
        "cpu_ms_per_vote_near_5000": _near(sustained or steps, 5000),
        "steps": steps,
    }
    return {"settings": cfg, "figures": figures, "checks": checks}


async def _step(
    bs: Any, load: LoadGen, poll_id: str, offered: int, cfg: dict[str, Any], stored_before: int
) -> dict[str, Any]:
    duration = float(cfg["step_s"])
    backlog_before = (await bs.queue_depths("votes"))["votes"]
    start_at = time.monotonic() + 0.5
    answers = await load.command(
        "votes",
        {
            "start_at": start_at,
            "duration": duration,
            "rate": offered / cfg["procs"],
            "options": list(range(OPTIONS)),
            "answer_timeout": 30,
        },
    )
    answered_at = time.monotonic()
    backlog_after = (await bs.queue_depths("votes"))["votes"]
    accepted_ids = merged(answers, "accepted_ids")
    sent = sum(a["sent"] for a in answers)
    errors = merged_errors(answers)
    unanswered = sum(a["unanswered"] for a in answers)
    stored_now = (await bs.stored(poll_id))["ballots"]
    stored_in_step = stored_now - stored_before
    # Accepted but not yet in Postgres (in the queue or in the worker's prefetch): the backlog.
    unstored_after = stored_before + len(accepted_ids) - stored_now
    latency = summarize_ms(merged(answers, "accept_latency"))
    # Let the worker catch up before the next step, so each step starts from an empty queue.
    caught_up_at, _ = await wait_stored(bs, poll_id, stored_before + len(accepted_ids), 120)
    accepted_rate = rate(len(accepted_ids), duration)
    sustained = (
        sent > 0
        and len(accepted_ids) >= 0.99 * sent
        and sent >= 0.95 * offered * duration
        and not errors
        and unanswered == 0
        and stored_in_step >= 0.95 * len(accepted_ids)
        and backlog_after <= backlog_before + BACKLOG_SLACK_MESSAGES
        # A growing backlog inside the gateway shows as answers that come later and later.
        and latency.get("p99_ms", 0) <= MAX_ACCEPT_P99_MS
        and answered_at - start_at <= duration + 2.0
    )
    return {
        "offered_per_s": offered,
        "sent_per_s": rate(sent, duration),
        "accepted_per_s": accepted_rate,
        "stored_per_s_during_step": rate(stored_in_step, answered_at - start_at),
        "catch_up_after_step_s": round(caught_up_at - answered_at, 2),
        "queue_ready_before": backlog_before,
        "queue_ready_after": backlog_after,
        "unstored_votes_after": unstored_after,
        "errors": errors,
        "unanswered": unanswered,
        "accept_latency": latency,
        "answered_after_s": round(answered_at - start_at, 2),
        "sustained": sustained,
        "accepted_ids": accepted_ids,
    }


def _knee(steps: list[dict[str, Any]]) -> int | None:
    """The first offered rate of two failed steps in a row (None: the ladder ran out first)."""
    for a, b in itertools.pairwise(steps):
        if not a["sustained"] and not b["sustained"]:
            return int(a["offered_per_s"])
    return None


def _near(steps: list[dict[str, Any]], offered: int) -> dict[str, Any] | None:
    """The CPU per vote of the step offered closest to `offered` votes/s, with its rate."""
    if not steps:
        return None
    step = min(steps, key=lambda s: abs(s["offered_per_s"] - offered))
    return {"offered_per_s": step["offered_per_s"], **step["cpu_ms_per_vote"]}


def _brief(step: dict[str, Any]) -> str:
    return (
        f"sent {step['sent_per_s']}/s accepted {step['accepted_per_s']}/s "
        f"stored {step['stored_per_s_during_step']}/s unstored {step['unstored_votes_after']} "
        f"p99 {step['accept_latency'].get('p99_ms')} ms errors {step['errors']} "
        f"cpu/vote {step['cpu_ms_per_vote'].get('all')} ms sustained={step['sustained']}"
    )


def headline(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    f, c = result["figures"], result["checks"]
    return [
        ("sustained votes/s", str(f["sustained_votes_per_second"]), ">= 5000"),
        ("capacity knee (offered votes/s)", str(f.get("knee_offered_per_s")), ">= 12000"),
        (
            "CPU ms per vote near 5,000/s, all",
            str((f.get("cpu_ms_per_vote_near_5000") or {}).get("all")),
            "<= 0.2",
        ),
        ("stored == accepted", str(c["stored_equals_accepted"]), "True"),
    ]
