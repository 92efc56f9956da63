"""CPU per vote at one fixed rate: the capacity scenario's step, repeated, for before/after.

    python -m bench.fixed_rate 2000 --steps 3

Prints one JSON line per step (offered rate, sustained, CPU ms per accepted vote of each
process group from /proc) and the correctness checks. Run it on the old and the new commit
alternately (two worktrees) and compare the same rows: the machine's noise between runs of the
same code is ±15 %, so a change smaller than that needs several pairs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from typing import Any

from bench.scenarios import capacity


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rate", type=int, help="votes/s offered")
    parser.add_argument("--steps", type=int, default=3, help="10 s steps at that rate")
    args = parser.parse_args(argv)

    def config(quick: bool) -> dict[str, Any]:
        return {"participants": 400, "procs": 2, "steps": [args.rate] * args.steps, "step_s": 10}

    capacity.config = config  # the scenario reads its steps from here
    print(json.dumps({"load_average_start": os.getloadavg()[0]}))
    doc = asyncio.run(capacity.run(False))
    for step in doc["figures"]["steps"]:
        row = {k: step[k] for k in ("offered_per_s", "sustained", "cpu_ms_per_vote")}
        print(json.dumps(row))
    print(json.dumps({"checks": doc["checks"], "load_average_end": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
