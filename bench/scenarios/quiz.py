"""quiz: 10,000 participants answer a timed quiz question within its last 3 seconds.

The question (4 options, one correct, 1000 points) closes itself by its timer; every
participant answers once at a random moment of its last 3 s. Figures: the time from the close
to the last screen showing the leaderboard and to the last participant holding their own
`quiz_result`, each service's CPU seconds from the close until then (scoring 10,000 and
sending 20,000 frames), `vote_accepted` latency in the rush and the share of answers accepted
before the close (the rest were sent in time but reached the accept script after it: the
server's clock decides). The full run is made with one gateway, then with two.

Checks: stored == accepted, every stored score equals docs/quiz.md's rule recomputed from the
stored answers, ranks equal SQL's RANK(), and every screen's quiz_result is its stored score
and rank.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from uuid import UUID

import asyncpg
from tests.support.quiz import read_scores, recompute

from bench.loadgen import LoadGen
from bench.procstat import cpu_seconds
from bench.scenarios.common import merged, merged_errors, specs, stored_checks, wait_stored
from bench.stack import BenchStack, bench_stack
from bench.stats import summarize_ms

OPTIONS = 4


def config(quick: bool) -> dict[str, Any]:
    if quick:
        return {
            "participants": 200,
            "procs": 2,
            "time_limit_s": 8,
            "rush_s": 3.0,
            "gateway_counts": [1],
        }
    # One gateway, then two on this machine's two cores: the rush is bounded by intake.
    return {
        "participants": 10_000,
        "procs": 4,
        "time_limit_s": 15,
        "rush_s": 3.0,
        "gateway_counts": [1, 2],
    }


async def _board_version(database_url: str, poll_id: str) -> int:
    """The version of the poll's stored scoring (how many times it was scored)."""
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        version = await conn.fetchval(
            "SELECT version FROM quiz_boards WHERE poll_id = $1", UUID(poll_id)
        )
    finally:
        await conn.close()
    return int(version or 0)


async def _cpu_at(moment: float, pids: dict[str, int]) -> dict[str, float]:
    """Each process's CPU seconds at `moment` (time.monotonic)."""
    await asyncio.sleep(max(0.0, moment - time.monotonic()))
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def _pids(bs: BenchStack) -> dict[str, int]:
    pids = {}
    for name, svc in bs.stack.services.items():
        assert svc.proc is not None
        pids[name] = svc.proc.pid
    return pids


async def run(quick: bool) -> dict[str, Any]:
    cfg = config(quick)
    runs = [await run_once(cfg, gateways) for gateways in cfg["gateway_counts"]]
    figures, checks = runs[0]
    for (more_figures, more_checks), gateways in zip(
        runs[1:], cfg["gateway_counts"][1:], strict=True
    ):
        figures[f"gateways_{gateways}"] = more_figures
        checks[f"gateways_{gateways}"] = more_checks
    return {"settings": cfg, "figures": figures, "checks": checks}


async def run_once(cfg: dict[str, Any], gateways: int) -> tuple[dict[str, Any], dict[str, Any]]:
    limit, rush = cfg["time_limit_s"], cfg["rush_s"]
    question = {
        "kind": "quiz",
        "prompt": "Bench quiz?",
        "options": [f"option {i}" for i in range(OPTIONS)],
        "correct": [1],
        "time_limit_s": limit,
        "points": 1000,
    }
    async with bench_stack("quiz", gateways=gateways) as bs:
        poll = await bs.create_poll(OPTIONS, open_it=False, more=[question])
        await bs.show_question(poll, 1)
        room, procs = poll["room_code"], cfg["procs"]
        urls = [bs.ws_url(room, i % gateways) for i in range(procs)]
        load = LoadGen(specs(urls, cfg["participants"], procs, "z"))
        try:
            joined = await load.start()
            await bs.wait_queues_empty("participants", "audit")
            await bs.open_poll(poll, 1)
            opened = time.monotonic()  # the question opened a little before this
            closes = opened + limit
            pids = _pids(bs)
            cpu_at_close = asyncio.create_task(_cpu_at(closes, pids))
            # Answers in the last `rush` seconds, ending 0.2 s before the close.
            answers = await load.command(
                "burst",
                {
                    "start_at": closes - rush,
                    "spread": rush - 0.2,
                    "options": list(range(OPTIONS)),
                },
                timeout=limit + 180,
            )
            cpu_before = await cpu_at_close
            waited = await load.command("quiz_wait", {"timeout": 120}, timeout=200)
            cpu_after = {name: cpu_seconds(pid) for name, pid in pids.items()}
            accepted_ids = merged(answers, "accepted_ids")
            await wait_stored(bs, poll["id"], len(accepted_ids))
            checks = await stored_checks(bs, poll["id"], accepted_ids, OPTIONS)
            db = bs.resources.database_url
            # Answers accepted before the close but stored after it are rescored (a newer
            # version), and their messages acked only then: once `votes` holds nothing, the
            # scoring is final, and every screen must end with it.
            await bs.wait_settled("votes")
            final = await _board_version(db, poll["id"])
            settled = await load.command(
                "quiz_wait", {"timeout": 60, "version": final}, timeout=120
            )
            stored = await read_scores(db, poll["id"])
            expected = await recompute(db, poll["id"])
        finally:
            await load.stop()
    boards = merged(waited, "leaderboard_at")
    results = merged(waited, "quiz_result_at")
    shown: dict[str, list[int]] = {}
    for w in settled:
        shown.update(w["results"])
    finals = merged(settled, "quiz_result_latest_at")
    screens = sum(w["screens"] for w in waited)
    for unused in ("tally_equals_group_by", "final_counts"):  # question 0 takes no answers
        checks.pop(unused, None)
    checks["scores_equal_recomputation"] = len(stored) == len(expected) and all(
        stored.get(pid, {}).get("score") == e.score for pid, e in expected.items()
    )
    checks["ranks_equal_sql_rank"] = all(s["rank"] == s["sql_rank"] for s in stored.values())
    differ = [pid for pid, e in expected.items() if stored.get(pid, {}).get("score") != e.score]
    checks["scores_differing"] = {
        pid: {"stored": stored.get(pid), "expected": vars(expected[pid])} for pid in differ[:5]
    }
    checks["scores_differing_count"] = len(differ)
    checks["every_screen_has_leaderboard"] = len(boards) == screens
    checks["every_screen_shows_its_stored_result"] = len(shown) == screens and all(
        [stored[pid]["score"], stored[pid]["rank"]] == v for pid, v in shown.items()
    )
    checks["errors"] = merged_errors(answers)
    send_times = merged(answers, "send_times")
    last_screen = max([*boards, *results], default=closes)
    figures = {
        "gateways": gateways,
        "participants_joined": joined["joined"],
        "answers_sent": len(send_times),
        "answers_accepted": checks["accepted"],
        "accepted_share": round(checks["accepted"] / len(send_times), 3) if send_times else None,
        "rush_window_s": round(max(send_times) - min(send_times), 3) if send_times else None,
        "vote_accepted_latency": summarize_ms(merged(answers, "accept_latency")),
        "close_to_last_leaderboard_s": round(max(boards) - closes, 3) if boards else None,
        "close_to_first_leaderboard_s": round(min(boards) - closes, 3) if boards else None,
        "close_to_last_quiz_result_s": round(max(results) - closes, 3) if results else None,
        "scoring_versions": final,
        "close_to_last_final_result_s": round(max(finals) - closes, 3) if finals else None,
        # CPU of each service from the close until the last screen was done (and a little
        # after: until every load process reported back).
        "cpu_s_close_to_done": {
            name: round(cpu_after[name] - cpu_before[name], 3) for name in sorted(pids)
        },
        "close_to_done_s": round(last_screen - closes, 3),
        "scored_participants": len(stored),
    }
    return figures, checks


def headline(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    f, c = result["figures"], result["checks"]
    rows = [
        ("scores equal recomputation", str(c["scores_equal_recomputation"]), "True"),
        ("close to last leaderboard s", str(f["close_to_last_leaderboard_s"]), "lower"),
        ("close to last quiz_result s", str(f["close_to_last_quiz_result_s"]), "lower"),
        ("answers accepted before close", str(f["accepted_share"]), "higher"),
    ]
    for key, more in f.items():
        if key.startswith("gateways_"):
            rows.append((f"{key}: accepted before close", str(more["accepted_share"]), "higher"))
            rows.append(
                (
                    f"{key}: close to last leaderboard s",
                    str(more["close_to_last_leaderboard_s"]),
                    "lower",
                )
            )
    return rows
