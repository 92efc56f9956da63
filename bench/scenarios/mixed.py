"""mixed: the steady load on a run of three open questions of different kinds.

1,000 participants, 500 answers/s for 30 s, as `steady`, but a third of the answers go to a
multiple-choice question (1 to 2 of 4 options) and a third to a ranking question (3 of 4);
the probes measure vote-to-screen on the single-choice question, which the screens follow.
Compare its figures with `steady` from the same run: the cost of the kinds that are not
single choice (validation, JSON answers, counters) shows as the ratio.

Checks: stored == accepted over every question, and every question's aggregate equals a
recomputation from its stored answers (invariant 3).
"""

from __future__ import annotations

import time
from typing import Any

from tests.support.truth import read_questions

from bench.loadgen import LoadGen
from bench.scenarios.common import merged, merged_errors, rate, settle, specs
from bench.scenarios.steady import REGULAR_OPTIONS, config, headline
from bench.stack import bench_stack
from bench.stats import summarize_ms

OTHERS: list[dict[str, Any]] = [
    {
        "kind": "multiple",
        "prompt": "Pick one or two",
        "options": ["a", "b", "c", "d"],
        "min_choices": 1,
        "max_choices": 2,
    },
    {"kind": "ranking", "prompt": "Order three", "options": ["a", "b", "c", "d"], "rank_count": 3},
]

__all__ = ["config", "headline", "run"]


async def run(quick: bool) -> dict[str, Any]:
    cfg = config(quick)
    probes = cfg["probes"]
    options = REGULAR_OPTIONS + probes
    async with bench_stack("mixed") as bs:
        poll = await bs.create_poll(options, more=OTHERS)
        load = LoadGen(specs(bs.ws_url(poll["room_code"]), cfg["participants"], cfg["procs"], "m"))
        try:
            joined = await load.start()
            await bs.wait_queues_empty("participants", "audit")
            start_at = time.monotonic() + 1.0
            voters = max(1, cfg["procs"] - 1)
            params: list[dict[str, Any]] = [
                {
                    "start_at": start_at,
                    "duration": cfg["duration"],
                    "probe_options": list(range(REGULAR_OPTIONS, options)),
                    "regular_options": list(range(REGULAR_OPTIONS)),
                    "observers": cfg["observers"],
                }
            ] + [
                {
                    "start_at": start_at,
                    "duration": cfg["duration"],
                    "rate": cfg["rate"] / voters,
                    "options": list(range(REGULAR_OPTIONS)),
                    "mixed": True,
                }
            ] * (cfg["procs"] - 1)
            roles = ["probe"] + ["votes"] * (cfg["procs"] - 1)
            probe_answer, *vote_answers = await load.command(roles, params)
            sent_done = time.monotonic()
            answers = [probe_answer, *vote_answers]
            all_stored_at, checks, converged = await settle(
                bs, load, poll["id"], answers, options, 30
            )
            questions = await read_questions(bs.resources.database_url, poll["id"])
        finally:
            await load.stop()
    sent = sum(a.get("sent", 0) for a in vote_answers) + len(probe_answer["accepted_ids"])
    screens = sum(c["screens"] for c in converged)
    checks["every_screen_final"] = sum(c["agree"] for c in converged) == screens
    checks["every_aggregate_equals_recomputation"] = all(
        q.tally == q.recomputed() for q in questions.values()
    )
    checks["answers_per_question"] = {str(k): len(q.answers) for k, q in questions.items()}
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
    settings = {**cfg, "questions": ["single", "multiple", "ranking"]}
    return {"settings": settings, "figures": figures, "checks": checks}
