"""steady: 1,000 participants in one poll, 500 votes/s for 30 s (votes and vote changes).

Figures: vote_accepted latency, vote-to-screen latency (probe method, see loadgen.probe),
votes stored per second, stored == accepted.
"""

from __future__ import annotations

import time
from typing import Any

from bench.loadgen import LoadGen
from bench.scenarios.common import merged, merged_errors, rate, settle, specs
from bench.stack import bench_stack
from bench.stats import summarize_ms

REGULAR_OPTIONS = 4


def config(quick: bool) -> dict[str, Any]:
    if quick:
        return {
            "participants": 60,
            "rate": 50,
            "duration": 3,
            "procs": 2,
            "probes": 2,
            "observers": 10,
        }
    return {
        "participants": 1000,
        "rate": 500,
        "duration": 30,
        "procs": 2,
        "probes": 8,
        "observers": 50,
    }


async def run(quick: bool) -> dict[str, Any]:
    cfg = config(quick)
    probes = cfg["probes"]
    options = REGULAR_OPTIONS + probes
    async with bench_stack("steady") as bs:
        poll = await bs.create_poll(options)
        # Process 0 holds the probes and their observers; the others send the load.
        load = LoadGen(specs(bs.ws_url(poll["room_code"]), cfg["participants"], cfg["procs"], "s"))
        try:
            joined = await load.start()
            await bs.wait_queues_empty("participants", "audit")
            start_at = time.monotonic() + 1.0
            regular = list(range(REGULAR_OPTIONS))
            voters = max(1, cfg["procs"] - 1)
            params: list[dict[str, Any]] = [
                {
                    "start_at": start_at,
                    "duration": cfg["duration"],
                    "probe_options": list(range(REGULAR_OPTIONS, options)),
                    "regular_options": regular,
                    "observers": cfg["observers"],
                }
            ] + [
                {
                    "start_at": start_at,
                    "duration": cfg["duration"],
                    "rate": cfg["rate"] / voters,
                    "options": regular,
                }
            ] * (cfg["procs"] - 1)
            roles = ["probe"] + ["votes"] * (cfg["procs"] - 1)
            probe_answer, *vote_answers = await load.command(roles, params)
            sent_done = time.monotonic()
            answers = [probe_answer, *vote_answers]
            all_stored_at, checks, converged = await settle(
                bs, load, poll["id"], answers, options, 30
            )
        finally:
            await load.stop()
    sent = sum(a.get("sent", 0) for a in vote_answers) + len(probe_answer["accepted_ids"])
    screens = sum(c["screens"] for c in converged)
    checks["every_screen_final"] = sum(c["agree"] for c in converged) == screens
    checks["errors"] = merged_errors(answers)
    checks["unanswered"] = sum(a["unanswered"] for a in answers)
    checks["probe_timeouts"] = probe_answer["timeouts"]
    figures = {
        "participants_joined": joined["joined"],
        "join_seconds": round(joined["seconds"], 1),
        "votes_sent": sent,
        "votes_sent_per_second": rate(sent, cfg["duration"]),
        "votes_accepted": checks["accepted"],
        "vote_accepted_latency": summarize_ms(merged(answers, "accept_latency")),
        "vote_to_screen": summarize_ms(probe_answer["latencies"]),
        "vote_to_first_screen": summarize_ms(probe_answer["first_screen"]),
        "votes_stored_per_second": rate(checks["accepted"], all_stored_at - start_at),
        "store_lag_after_last_vote_s": round(max(0.0, all_stored_at - sent_done), 2),
    }
    return {"settings": cfg, "figures": figures, "checks": checks}


def headline(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    f, c = result["figures"], result["checks"]
    return [
        (
            "vote_accepted p50/p99 ms",
            f"{f['vote_accepted_latency'].get('p50_ms')}/{f['vote_accepted_latency'].get('p99_ms')}",
            "",
        ),
        (
            "vote-to-screen p50/p99 ms",
            f"{f['vote_to_screen'].get('p50_ms')}/{f['vote_to_screen'].get('p99_ms')}",
            "p99 <= 250",
        ),
        ("votes stored/s", str(f["votes_stored_per_second"]), ""),
        ("stored == accepted", str(c["stored_equals_accepted"]), "True"),
    ]
