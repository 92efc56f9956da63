"""Writing `bench/results/<scenario>.json` and a short table on screen."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from bench import machine

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _clean(value: Any) -> Any:
    # JSON has no NaN: a figure that could not be measured is null.
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write(
    scenario: str,
    *,
    quick: bool,
    settings: dict[str, Any],
    figures: dict[str, Any],
    checks: dict[str, Any],
    out_dir: Path | None = None,
) -> Path:
    """One JSON file per scenario: machine, settings, figures and correctness checks."""
    directory = out_dir or RESULTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    document = {
        "scenario": scenario,
        "mode": "quick" if quick else "full",
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine.details(),
        "settings": settings,
        "figures": figures,
        "checks": checks,
    }
    path = directory / f"{scenario}.json"
    path.write_text(json.dumps(_clean(document), indent=2, sort_keys=False) + "\n")
    return path


def table(rows: list[tuple[str, ...]]) -> str:
    """Scenario / figure / value / target rows as a fixed-width text table."""
    header = ("scenario", "figure", "value", "target")
    cols = len(header)
    padded = [tuple(r) + ("",) * (cols - len(r)) for r in [header, *rows]]
    widths = [max(len(r[i]) for r in padded) for i in range(cols)]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in padded]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)
