"""`python -m bench.report [--update-doc]`: the latest full run against the targets, as Markdown.

Reads `bench/results/<scenario>.json`; with `--update-doc` replaces the table between the
`<!-- bench-table -->` markers of docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from bench.report_keynote import keynote_rows, wordcloud_rows
from bench.results import RESULTS_DIR

DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
START, END = "<!-- bench-table -->", "<!-- /bench-table -->"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _met(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**missed**")


def _each(value: int | list[int]) -> str:
    """A count, or one count per run (repeated runs keep every run's checks)."""
    if isinstance(value, list):
        return " / ".join(f"{v:,}" for v in value)
    return f"{value:,}"


def rows() -> list[tuple[str, str, str, str, str]]:
    """(figure, target, measured, met, scenario) for every target of the issue."""
    out: list[tuple[str, str, str, str, str]] = []
    capacity, fanout = _load("capacity"), _load("fanout")
    steady, burst, scale = _load("steady"), _load("burst"), _load("scaleout")
    if capacity:
        f, c = capacity["figures"], capacity["checks"]
        v = f["sustained_votes_per_second"]
        out.append(
            (
                "sustained votes/s, end to end, zero loss",
                "≥ 5,000",
                f"{v:,.0f}",
                _met(v >= 5000 and c["stored_equals_accepted"]),
                "capacity",
            )
        )
    if fanout:
        f = fanout["figures"]
        out.append(
            (
                "concurrent participants per gateway process",
                "≥ 10,000",
                f"{f['connections']:,}",
                _met(f["connections"] >= 10_000),
                "fanout",
            )
        )
        out.append(
            (
                "memory per connection",
                "≤ 20 KiB",
                f"{f['memory_per_connection_kib']} KiB",
                _met(f["memory_per_connection_kib"] <= 20),
                "fanout",
            )
        )
        out.append(
            (
                "tally frames delivered per gateway process",
                "≥ 40,000/s",
                f"{f['frames_delivered_per_s']:,.0f}/s",
                _met(f["frames_delivered_per_s"] >= 40_000),
                "fanout",
            )
        )
        out.append(
            (
                "gateway CPU per 1,000 frames",
                "—",
                f"{f['cpu_ms_per_1000_frames']} ms",
                "—",
                "fanout",
            )
        )
    if steady:
        f = steady["figures"]
        p99 = f["vote_to_screen"].get("p99_ms")
        out.append(
            (
                "vote-to-screen p99, steady",
                "≤ 250 ms",
                f"{p99} ms (p50 {f['vote_to_screen'].get('p50_ms')})",
                _met(p99 is not None and p99 <= 250),
                "steady",
            )
        )
        acc = f["vote_accepted_latency"]
        out.append(
            (
                "vote_accepted p50 / p99, steady",
                "—",
                f"{acc.get('p50_ms')} / {acc.get('p99_ms')} ms",
                "—",
                "steady",
            )
        )
        same = steady["checks"]["stored_equals_accepted"]
        out.append(
            (
                "votes stored/s, steady (stored == accepted)",
                "500/s offered",
                f"{f['votes_stored_per_second']}/s ({same})",
                _met(same),
                "steady",
            )
        )
    if burst:
        f, c = burst["figures"], burst["checks"]
        p99 = f["vote_to_screen"].get("p99_ms")
        last = f["last_screen_final_after_last_vote_s"]
        out.append(
            (
                "vote-to-screen p99, burst",
                "≤ 1 s",
                f"{p99} ms",
                _met(p99 is not None and p99 <= 1000),
                "burst",
            )
        )
        out.append(
            (
                "last screen final after the last vote, burst",
                "≤ 2 s",
                f"{last} s",
                _met(last is not None and last <= 2),
                "burst",
            )
        )
        out.append(
            (
                "every vote counted, burst (10,000 votes)",
                "all",
                f"{_each(c['stored'])} of {_each(c['accepted'])} accepted",
                _met(c["every_vote_counted"]),
                "burst",
            )
        )
    if scale:
        f, c = scale["figures"], scale["checks"]
        two, one = f["two_gateways"], f["one_gateway"]
        out.append(
            (
                "scale-out: receivers per gateway (leastconn)",
                "spread",
                str(two["connections_per_gateway"]),
                _met(c["both_gateways_used"]),
                "scaleout",
            )
        )
        out.append(
            (
                "scale-out: every screen consistent",
                "all",
                str(c["every_screen_consistent"]),
                _met(c["every_screen_consistent"]),
                "scaleout",
            )
        )
        out.append(
            (
                "scale-out: frames/s two gateways vs one",
                "ratio",
                f"{two['frames_delivered_per_s']:,.0f} vs {one['frames_delivered_per_s']:,.0f}"
                f" ({f['frames_ratio_two_vs_one']})",
                "—",
                "scaleout",
            )
        )
    out.extend(keynote_rows(capacity, _load("broadcast")))
    out.extend(_quiz_rows(_load("quiz")))
    storm = _load("joinstorm")
    if storm:
        f, c = storm["figures"], storm["checks"]
        out.append(
            (
                "join storm: 10,000 participants join one poll (all joined and stored)",
                "≤ 5 s, p99 ≤ 1 s",
                f"{f['join_seconds']} s, p99 {f['join_latency'].get('p99_ms')} ms",
                _met(
                    c["stored_equals_joined"]
                    and f["join_seconds"] <= 5
                    and (f["join_latency"].get("p99_ms") or 1e9) <= 1000
                ),
                "joinstorm",
            )
        )
    out.extend(wordcloud_rows(_load("wordcloud")))
    return out


def _quiz_rows(quiz: dict[str, Any] | None) -> list[tuple[str, str, str, str, str]]:
    if not quiz:
        return []
    f, c = quiz["figures"], quiz["checks"]
    runs = [f, *(v for k, v in sorted(f.items()) if k.startswith("gateways_"))]
    every = [c, *(v for k, v in sorted(c.items()) if k.startswith("gateways_"))]
    scores = all(x["scores_equal_recomputation"] for x in every)
    ranks = all(x["ranks_equal_sql_rank"] for x in every)
    out = [
        (
            "quiz: scores and ranks equal recomputation (10,000 players, every run)",
            "all",
            f"{scores} / {ranks}",
            _met(scores and ranks),
            "quiz",
        )
    ]
    for run in runs:
        label = "1 gateway" if run["gateways"] == 1 else f"{run['gateways']} gateways"
        out.append(
            (
                f"quiz, {label}: close to the last leaderboard / own result",
                "—",
                f"{run['close_to_last_leaderboard_s']} / {run['close_to_last_quiz_result_s']} s",
                "—",
                "quiz",
            )
        )
        out.append(
            (
                f"quiz, {label}: answers of the last 3 s accepted before the close",
                "—",
                f"{run['answers_accepted']:,} of {run['answers_sent']:,}",
                "—",
                "quiz",
            )
        )
    return out


def markdown() -> str:
    lines = ["| figure | target | measured | | scenario |", "|---|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} | `{e}` |" for a, b, c, d, e in rows()]
    docs = [
        d for d in (_load(n) for n in ("steady", "burst", "capacity", "fanout", "scaleout")) if d
    ]
    if docs:
        m = docs[0]["machine"]
        # Scenarios may come from different runs (`python -m bench.run burst` rewrites one
        # file): each says when, how many runs and on which commit.
        per_scenario = "; ".join(
            f"{d['scenario']} {d['finished_at']}, {d['figures'].get('repeats', 1)} run(s), "
            f"commit {(d['machine']['git'].get('commit') or '?')[:10]}"
            f"{' + local changes' if d['machine']['git'].get('dirty') else ''}, load average "
            f"{d['machine']['load_average'][0]:.1f} as it ended"
            for d in docs
        )
        lines += [
            "",
            f"On {m['cores']} cores ({m['cpu_model']}), {m['memory_bytes'] / 2**30:.1f} GiB, "
            f"kernel {m['kernel']}, Python {m['python']}; with several runs a figure is their "
            f"median. Finished (UTC), runs, commit and load average (1 min): {per_scenario}. "
            "Full figures and settings: `bench/results/*.json`.",
        ]
    for name, label in (
        ("joinstorm", "join storm row"),
        ("broadcast", "broadcast row"),
        ("wordcloud", "word cloud rows"),
    ):
        doc = _load(name)
        if doc:
            m = doc["machine"]
            lines.append(
                f"\nThe {label}: `python -m bench.run {name}`, finished "
                f"{doc['finished_at']}, commit {(m['git'].get('commit') or '?')[:10]}"
                f"{' + local changes' if m['git'].get('dirty') else ''}, load average "
                f"{m['load_average'][0]:.1f} as it ended (1 min)."
            )
    quiz = _load("quiz")
    if quiz:
        m = quiz["machine"]
        lines.append(
            f"\nThe quiz rows: `python -m bench.run quiz`, finished {quiz['finished_at']}, "
            f"{quiz['figures'].get('repeats', 1)} run, "
            f"commit {(m['git'].get('commit') or '?')[:10]}"
            f"{' + local changes' if m['git'].get('dirty') else ''}, load average "
            f"{m['load_average'][0]:.1f} as it ended (1 min)."
        )
    return "\n".join(lines)


def update_doc() -> None:
    text = DOC.read_text()
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    DOC.write_text(pattern.sub(lambda _m: f"{START}\n{markdown()}\n{END}", text, count=1))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__)
    parser.add_argument("--update-doc", action="store_true", help="rewrite docs/performance.md")
    args = parser.parse_args()
    if args.update_doc:
        update_doc()
    print(markdown())


if __name__ == "__main__":
    main()
