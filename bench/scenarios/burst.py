"""burst: 10,000 participants in one poll all vote within 2 s of the poll opening.

Figures: every vote counted, time from the last vote until every screen shows the final
tally, and vote-to-screen latency. Each participant votes once, so a screen's `total` counts
the votes it reflects: vote number k (in send order, one clock for all processes) is on a
screen from its first tally frame, after the send, whose total is at least k.
"""

from __future__ import annotations

import bisect
import time
from typing import Any

from bench.loadgen import LoadGen
from bench.scenarios.common import merged, merged_errors, settle, specs
from bench.stack import bench_stack
from bench.stats import summarize_ms

OPTIONS = 4


def config(quick: bool) -> dict[str, Any]:
    if quick:
        return {"participants": 200, "procs": 2, "spread_s": 2.0, "traced_screens": 20}
    return {"participants": 10_000, "procs": 4, "spread_s": 2.0, "traced_screens": 100}


def screen_latencies(send_times: list[float], trace: list[tuple[float, int]]) -> list[float]:
    """Per vote (sorted send times), the delay until this screen's trace reflected it."""
    times = [t for t, _ in trace]
    totals = [total for _, total in trace]
    # Newest version wins on a screen, and totals only grow in a burst: both lists are sorted.
    out = []
    for k, sent in enumerate(send_times, start=1):
        i = max(bisect.bisect_left(totals, k), bisect.bisect_left(times, sent))
        if i < len(times) and totals[i] >= k:
            out.append(times[i] - sent)
    return out


async def run(quick: bool) -> dict[str, Any]:
    cfg = config(quick)
    trace_every = max(1, cfg["participants"] // cfg["traced_screens"])
    async with bench_stack("burst") as bs:
        poll = await bs.create_poll(OPTIONS, open_it=False)
        url = bs.ws_url(poll["room_code"])
        load = LoadGen(specs(url, cfg["participants"], cfg["procs"], "b", trace_every))
        try:
            joined = await load.start()
            await bs.wait_queues_empty("participants", "audit")
            opened_at = time.monotonic()
            await bs.open_poll(poll)
            answers = await load.command(
                "burst",
                {
                    "start_at": time.monotonic(),
                    "spread": cfg["spread_s"],
                    "options": list(range(OPTIONS)),
                },
            )
            stored_at, checks, converged = await settle(bs, load, poll["id"], answers, OPTIONS, 60)
        finally:
            await load.stop()
    send_times = sorted(merged(answers, "send_times"))
    traces = merged(converged, "traces")
    to_screen = [x for trace in traces for x in screen_latencies(send_times, trace)]
    last_vote = send_times[-1] if send_times else opened_at
    final_at = merged(converged, "final_at")
    screens = sum(c["screens"] for c in converged)
    checks["every_vote_counted"] = (
        checks["stored_equals_accepted"] and checks["accepted"] == joined["joined"]
    )
    checks["every_screen_final"] = len(final_at) == screens
    checks["errors"] = merged_errors(answers)
    checks["unanswered"] = sum(a["unanswered"] for a in answers)
    figures = {
        "participants_joined": joined["joined"],
        "join_seconds": round(joined["seconds"], 1),
        "join_latency": summarize_ms(joined["join_latency"]),
        "votes_sent": len(send_times),
        "votes_accepted": checks["accepted"],
        "voting_window_s": round(last_vote - send_times[0], 3) if send_times else None,
        "open_to_first_vote_s": round(send_times[0] - opened_at, 3) if send_times else None,
        "vote_accepted_latency": summarize_ms(merged(answers, "accept_latency")),
        "vote_to_screen": summarize_ms(to_screen),
        "traced_screens": len(traces),
        "last_screen_final_after_last_vote_s": round(max(final_at) - last_vote, 3)
        if final_at
        else None,
        "all_stored_after_last_vote_s": round(stored_at - last_vote, 3),
    }
    return {"settings": cfg, "figures": figures, "checks": checks}


def headline(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    f, c = result["figures"], result["checks"]
    return [
        ("every vote counted", str(c["every_vote_counted"]), "True"),
        ("vote-to-screen p99 ms", str(f["vote_to_screen"].get("p99_ms")), "<= 1000"),
        (
            "last screen final after last vote s",
            str(f["last_screen_final_after_last_vote_s"]),
            "<= 2",
        ),
    ]
