"""After a scenario: drain, then compare what participants were told with what is stored.

- lost: an accepted vote_id missing from `ballots`, or a participant whose counted vote is not
  their latest accepted one (or a later vote whose answer they never got);
- duplicated: a counted vote nobody was told about or could have cast, or tallies that differ
  from a GROUP BY over `votes` (a vote counted twice shows there).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any
from uuid import UUID

from tests.fault.voter import Voter
from tests.support.truth import read_truth, redis_tally

TABLE_COLUMNS = (
    ("scenario", 22),
    ("participants", 12),
    ("sent", 7),
    ("accepted", 8),
    ("stored", 7),
    ("lost", 5),
    ("duplicated", 10),
    ("recover_s", 9),
    ("redis_sync_s", 12),
    ("screens_ok", 10),
)


@dataclass
class Outcome:
    scenario: str
    participants: int
    sent: int = 0
    accepted: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    recover_s: float | None = None
    redis_sync_s: float | None = None
    screens_ok: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    def row(self) -> str:
        cells = []
        for name, width in TABLE_COLUMNS:
            value = getattr(self, name)
            if isinstance(value, float):
                value = f"{value:.2f}"
            text = "-" if value is None else str(value)
            cells.append(f"{text:<{width}}" if name == "scenario" else f"{text:>{width}}")
        return " ".join(cells)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def table(outcomes: list[Outcome]) -> str:
    header = " ".join(
        f"{name:<{width}}" if name == "scenario" else f"{name:>{width}}"
        for name, width in TABLE_COLUMNS
    )
    return "\n".join([header, *(o.row() for o in outcomes)])


def allowed_vote_ids(voter: Voter) -> set[str]:
    """The vote ids that may be counted for this voter: the last accepted, or one sent after it
    whose answer never came (it may or may not have reached the broker)."""
    assert voter.participant_id is not None
    pid = UUID(voter.participant_id)
    allowed = {str(uuid.uuid5(pid, cvid)) for cvid in voter.unknown}
    if voter.accepted:
        allowed.add(str(voter.accepted[-1]["vote_id"]))
    return allowed


@dataclass
class Stored:
    ballots: set[str]
    votes: dict[str, tuple[str, int]]  # participant id -> (vote_id, option)
    group_by: list[int]
    tally: tuple[list[int], int] | None


async def read_stored(database_url: str, poll_id: str, options: int) -> Stored:
    truth = await read_truth(database_url, poll_id, options)
    return Stored(
        ballots=truth.ballots,
        votes={p: (v["vote_id"], v["option"]) for p, v in truth.votes.items()},
        group_by=truth.group_by,
        tally=(list(truth.tally["counts"]), truth.tally["total"]) if truth.tally else None,
    )


def settled(voters: list[Voter], stored: Stored) -> bool:
    """Every accepted vote is in `ballots` and every voter's latest accepted vote (or a later
    unanswered one) is the counted one. Redelivered messages may arrive after newer ones (a
    quorum queue returns them to its back), so the latest counting is not enough."""
    if any(str(a["vote_id"]) not in stored.ballots for v in voters for a in v.accepted):
        return False
    for voter in voters:
        if not voter.accepted:
            continue
        counted = stored.votes.get(str(voter.participant_id))
        if counted is None or counted[0] not in allowed_vote_ids(voter):
            return False
    return stored.tally is not None and stored.tally[0] == stored.group_by


async def drain(
    database_url: str, poll_id: str, options: int, voters: list[Voter], timeout: float
) -> Stored:
    """Wait until the stored votes settle (or the timeout passes); the last reading."""
    deadline = time.monotonic() + timeout
    while True:
        stored = await read_stored(database_url, poll_id, options)
        if settled(voters, stored) or time.monotonic() > deadline:
            return stored
        await asyncio.sleep(0.5)


def evaluate(outcome: Outcome, voters: list[Voter], stored: Stored) -> None:
    accepted_ids = {str(a["vote_id"]) for v in voters for a in v.accepted}
    outcome.sent = sum(v.sent for v in voters)
    outcome.accepted = len(accepted_ids)
    outcome.stored = len(accepted_ids & stored.ballots)
    missing = accepted_ids - stored.ballots
    wrong_latest = []
    for voter in voters:
        if not voter.accepted:
            continue
        counted = stored.votes.get(str(voter.participant_id))
        latest = voter.accepted[-1]
        if (
            counted is None
            or counted[0] not in allowed_vote_ids(voter)
            or (counted[0] == str(latest["vote_id"]) and counted[1] != latest["option"])
        ):
            wrong_latest.append((voter.nickname, latest, counted))
    outcome.lost = len(missing) + len(wrong_latest)
    by_id = {str(v.participant_id): v for v in voters}
    phantom = []  # counted, but its participant was never told of any accepted vote
    for pid, (vote_id, _) in stored.votes.items():
        voter = by_id.get(pid)
        if voter is None or (not voter.accepted and vote_id not in allowed_vote_ids(voter)):
            phantom.append(pid)
    tally_counts, tally_total = stored.tally if stored.tally else ([], 0)
    off = sum(abs(a - b) for a, b in zip(tally_counts, stored.group_by, strict=False))
    outcome.duplicated = len(phantom) + abs(tally_total - len(stored.votes)) + off
    outcome.details.update(
        missing=sorted(missing)[:5],
        wrong_latest=[str(w) for w in wrong_latest[:5]],
        phantom=phantom[:5],
        tally=tally_counts,
        group_by=stored.group_by,
        errors=_sum_errors(voters),
        reconnects=sum(v.reconnects for v in voters),
        closed_votes=sum(v.closed_votes for v in voters),
    )


def _sum_errors(voters: list[Voter]) -> dict[str, int]:
    total: dict[str, int] = {}
    for voter in voters:
        for code, n in voter.errors.items():
            total[code] = total.get(code, 0) + n
    return total


async def redis_converges(
    redis_url: str, key: str, group_by: list[int], timeout: float
) -> float | None:
    """Seconds until the Redis tally equals the stored truth; None if it never did."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            cached = await redis_tally(redis_url, key)
        except OSError:
            cached = None
        if cached is not None and cached["counts"] == group_by:
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    return None


async def screens_converge(voters: list[Voter], group_by: list[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        live = [v for v in voters if v.connected]
        if live and all(v.last_tally and v.last_tally["counts"] == group_by for v in live):
            return True
        await asyncio.sleep(0.2)
    return False
