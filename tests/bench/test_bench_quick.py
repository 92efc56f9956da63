"""Every benchmark scenario runs in quick mode and writes its JSON: correctness, never timing.

Each scenario starts the real services on private resources (bench.stack), so these tests
check that the suite cannot rot: the CLI runs, the file holds the machine's details, the
settings and the figures, and what was accepted is what was stored.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = [
    "steady",
    "mixed",
    "burst",
    "capacity",
    "fanout",
    "scaleout",
    "quiz",
    "joinstorm",
    "broadcast",
    "wordcloud",
]


def run_quick(scenario: str, out: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--out", str(out), scenario],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
    assert "scenario" in proc.stdout and scenario in proc.stdout  # the table on screen
    document: dict[str, Any] = json.loads((out / f"{scenario}.json").read_text())
    return document


@pytest.mark.timeout(700)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_quick_scenario_writes_results_and_loses_no_vote(scenario: str, tmp_path: Path) -> None:
    doc = run_quick(scenario, tmp_path)
    assert doc["scenario"] == scenario and doc["mode"] == "quick"
    machine = doc["machine"]
    for key in ("cores", "memory_bytes", "cpu_model", "kernel", "python", "packages", "git"):
        assert machine[key], key
    assert machine["packages"]["websockets"]
    assert doc["settings"] and doc["figures"]
    checks, figures = doc["checks"], doc["figures"]
    if scenario == "fanout":
        assert checks["all_connected"] and checks["all_open_after_drive"]
        assert figures["frames_delivered_per_s"] > 0
        assert figures["memory_per_connection_kib"] is not None
        return
    if scenario == "joinstorm":
        assert checks["every_participant_joined"], checks
        assert checks["stored_equals_joined"] and checks["nickname_claims_equal_joined"], checks
        assert figures["join_latency"]["count"] == figures["participants_joined"]
        assert figures["cpu_s_per_1000_joins"]["ws_gateway"] > 0
        return
    if scenario == "broadcast":
        assert checks["zephyr_receivers_joined"] and checks["bare_receivers_joined"], checks
        assert checks["every_receiver_got_every_round"], figures
        assert figures["ratio_of_medians"] > 0 and figures["frame_bytes"] > 0
        return
    assert checks["accepted"] > 0
    assert checks["stored_equals_accepted"], checks
    if scenario == "quiz":
        assert checks["scores_equal_recomputation"], checks
        assert checks["ranks_equal_sql_rank"], checks
        assert checks["every_screen_shows_its_stored_result"], checks
        assert figures["close_to_last_leaderboard_s"] is not None
        return
    if scenario == "wordcloud":
        assert checks["every_answer_counted"], checks
        assert checks["every_stored_answer_is_latest"], checks
        assert checks["tally_equals_recomputation"], checks
        assert checks["stored_top_equals_expected"], checks
        assert checks["every_screen_final"], checks
        assert figures["resent"] > 0 and figures["distinct_words"] > 0, figures
        assert figures["first_answer_to_screen"]["count"] > 0, figures
        assert figures["cpu_ms_per_answer"]["vote_worker"] > 0, figures
        return
    assert checks["tally_equals_group_by"], checks
    if scenario in ("steady", "mixed", "burst"):
        assert checks["every_screen_final"], checks
        assert figures["vote_to_screen"]["count"] > 0
    if scenario == "mixed":
        assert checks["every_aggregate_equals_recomputation"], checks
        assert all(n > 0 for n in checks["answers_per_question"].values()), checks
    if scenario == "burst":
        assert checks["every_vote_counted"], checks
    if scenario == "capacity":
        cpu = figures["steps"][0]["cpu_ms_per_vote"]
        assert cpu["ws_gateway"] > 0 and cpu["vote_worker"] > 0 and cpu["all"] >= cpu["services"]
        assert figures["cpu_ms_per_vote_near_5000"]["offered_per_s"] > 0
    if scenario == "scaleout":
        assert checks["every_screen_consistent"], checks
        assert checks["both_gateways_used"], figures["connections_per_gateway"]
        assert figures["two_gateways"]["frames_delivered_per_s"] > 0
