"""`python -m bench.run [--quick] [--repeat N] [--out DIR] [scenario ...]`: run the benchmarks.

Each scenario starts the real services as processes on private resources, drives them with
load generator processes over 127.0.0.1, writes `<out>/<scenario>.json` and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench import results
from bench.limits import raise_open_files

SCENARIOS = (
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
)
QUICK_OUT = Path(__file__).resolve().parent.parent / ".run" / "bench-quick"


def median_of(runs: list[Any]) -> Any:
    """The median of each number across runs (recursively through dicts); else the first."""
    first = runs[0]
    if isinstance(first, dict):
        return {k: median_of([r[k] for r in runs if isinstance(r, dict) and k in r]) for k in first}
    if isinstance(first, int | float) and not isinstance(first, bool):
        numbers = [r for r in runs if isinstance(r, int | float) and not isinstance(r, bool)]
        return statistics.median(numbers) if numbers else first
    return first


def merge_checks(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Boolean checks must hold in every run; the rest is shown per run."""
    merged: dict[str, Any] = {}
    for key in runs[0]:
        values = [r.get(key) for r in runs]
        merged[key] = all(values) if isinstance(values[0], bool) else values
    return merged


async def run_scenario(name: str, quick: bool, repeat: int, out: Path) -> dict[str, Any]:
    module = importlib.import_module(f"bench.scenarios.{name}")
    runs = []
    for i in range(repeat):
        started = time.monotonic()
        print(f"[bench] {name}: run {i + 1}/{repeat}{' (quick)' if quick else ''}", flush=True)
        result = await module.run(quick)
        result["figures"]["scenario_seconds"] = round(time.monotonic() - started, 1)
        runs.append(result)
    figures = median_of([r["figures"] for r in runs])
    if repeat > 1:
        figures["repeats"] = repeat
        figures["runs"] = [r["figures"] for r in runs]
    checks = merge_checks([r["checks"] for r in runs]) if repeat > 1 else runs[0]["checks"]
    summary = {"settings": runs[0]["settings"], "figures": figures, "checks": checks}
    path = results.write(name, quick=quick, out_dir=out, **summary)
    print(f"[bench] {name}: wrote {path}", flush=True)
    summary["rows"] = [(name, *row) for row in module.headline(summary)]
    return summary


async def main_async(names: list[str], quick: bool, repeat: int, out: Path) -> int:
    rows: list[tuple[str, ...]] = []
    failed = []
    for name in names:
        try:
            summary = await run_scenario(name, quick, repeat, out)
        except Exception as exc:
            print(f"[bench] {name} FAILED: {exc!r}", file=sys.stderr, flush=True)
            failed.append(name)
            continue
        rows.extend(summary["rows"])
    if rows:
        print()
        print(results.table(rows))
    return 1 if failed else 0


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument(
        "scenarios",
        nargs="*",
        choices=[*SCENARIOS, []],
        metavar="scenario",
        help=f"any of {', '.join(SCENARIOS)} (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for CI")
    parser.add_argument("--repeat", type=int, default=1, help="runs per scenario (medians)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="result directory (default bench/results, or .run/bench-quick)",
    )
    args = parser.parse_args(argv)
    names = args.scenarios or list(SCENARIOS)
    out = args.out or (QUICK_OUT if args.quick else results.RESULTS_DIR)
    raise_open_files()
    # SIGTERM ends the run like Ctrl-C: the services, load generators and resources are stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        import uvloop
    except ImportError:
        code = asyncio.run(main_async(names, args.quick, max(1, args.repeat), out))
    else:
        code = uvloop.run(main_async(names, args.quick, max(1, args.repeat), out))
    raise SystemExit(code)


if __name__ == "__main__":
    main()
