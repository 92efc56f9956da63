"""What several scenarios share: participant layout and the stored-equals-accepted check."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.loadgen import WorkerSpec, split
from bench.stack import BenchStack


def specs(
    url: str | list[str],
    total: int,
    procs: int,
    prefix: str,
    trace_every: int = 0,
    lean: bool = False,
) -> list[WorkerSpec]:
    urls = url if isinstance(url, list) else [url] * procs
    return [
        WorkerSpec(
            index=i,
            url=urls[i],
            count=n,
            nick_prefix=prefix,
            trace_every=trace_every,
            seed=i,
            lean=lean,
        )
        for i, n in enumerate(split(total, procs))
    ]


def merged(answers: list[dict[str, Any]], key: str) -> list[Any]:
    return [x for a in answers for x in a.get(key, [])]


def merged_errors(answers: list[dict[str, Any]]) -> dict[str, int]:
    errors: dict[str, int] = {}
    for a in answers:
        for code, n in a.get("errors", {}).items():
            errors[code] = errors.get(code, 0) + n
    return errors


async def wait_stored(
    bs: BenchStack, poll_id: str, accepted: int, timeout: float = 300
) -> tuple[float, dict[str, Any]]:
    """Wait until Postgres holds `accepted` ballots of the poll; (when, what is stored)."""
    deadline = time.monotonic() + timeout
    while True:
        stored = await bs.stored(poll_id)
        if stored["ballots"] >= accepted or time.monotonic() > deadline:
            return time.monotonic(), stored
        await asyncio.sleep(0.2)


async def stored_checks(
    bs: BenchStack, poll_id: str, accepted_ids: list[str], options: int
) -> dict[str, Any]:
    """Stored == accepted (the same vote ids) and the tally equals a GROUP BY over votes."""
    stored_ids = await bs.ballot_ids(poll_id)
    accepted = set(accepted_ids)
    stored = await bs.stored(poll_id)
    group_by = [stored["group_by"].get(i, 0) for i in range(options)]
    return {
        "accepted": len(accepted),
        "stored": len(stored_ids),
        "stored_equals_accepted": stored_ids == accepted,
        "accepted_not_stored": len(accepted - stored_ids),
        "tally_equals_group_by": stored["tally_counts"] == group_by,
        "final_counts": group_by,
    }


async def settle(
    bs: BenchStack,
    load: Any,
    poll_id: str,
    answers: list[dict[str, Any]],
    options: int,
    converge_timeout: float,
) -> tuple[float, dict[str, Any], list[dict[str, Any]]]:
    """After the votes: wait until every accepted vote is stored, check stored == accepted and
    the tally, then wait for every screen to show the final counts.
    Returns (when all were stored, the checks, the load generators' convergence answers)."""
    accepted_ids = merged(answers, "accepted_ids")
    stored_at, _ = await wait_stored(bs, poll_id, len(accepted_ids))
    checks = await stored_checks(bs, poll_id, accepted_ids, options)
    converged = await load.command(
        "converge", {"counts": checks["final_counts"], "timeout": converge_timeout}
    )
    return stored_at, checks, converged


def rate(count: float, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0
