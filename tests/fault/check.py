"""After a scenario: drain, then compare what participants were told with what is stored.

- lost: an accepted vote_id missing from `ballots`, or a participant whose counted vote is not
  their latest accepted one (or a later vote whose answer they never got);
- duplicated: a counted vote nobody was told about or could have cast, or an aggregate that
  differs from a recomputation over the stored answers (a vote counted twice shows there).

Everything is per question: the fault poll is a run of mixed kinds (scenario.QUESTIONS).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any
from uuid import UUID

import asyncpg

from tests.fault.voter import Voter
from tests.support.truth import QuestionTruth, read_questions, read_truth, redis_tally

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


def allowed_vote_ids(voter: Voter, qid: int = 0) -> set[str]:
    """The vote ids that may be counted for this voter's answer to question `qid`: the last
    accepted, or one sent after it whose answer never came (it may or may not have reached the
    broker)."""
    assert voter.participant_id is not None
    pid = UUID(voter.participant_id)
    allowed = {
        str(uuid.uuid5(pid, cvid))
        for cvid, planned in voter.unknown.items()
        if planned.question == qid  # the fault poll never moves a question: index == qid
    }
    accepted = voter.accepted_for(qid)
    if accepted:
        allowed.add(str(accepted[-1]["vote_id"]))
    return allowed


@dataclass
class Stored:
    ballots: set[str]
    votes: dict[tuple[str, int], tuple[str, dict[str, Any]]]  # (pid, qid) -> (vote_id, answer)
    questions: dict[int, QuestionTruth]
    group_by: list[int]  # question 0's counts from a GROUP BY over `votes`
    tally: tuple[list[int], int] | None  # question 0's tallies row
    # Nothing was committed while this reading was taken (its statements run one after the
    # other on several connections: a batch committed in between would mix two states).
    stable: bool = True

    def aggregates_off(self) -> int:
        """How far each question's stored aggregate is from a recomputation (0: equal)."""
        off = 0
        for question in self.questions.values():
            expected = question.recomputed()
            stored = question.tally or {}
            if stored == expected:
                continue
            off += abs(int(stored.get("total", 0)) - int(expected["total"])) or 1
            for name in ("counts", "points"):
                if name in expected:
                    got = list(stored.get(name) or [])
                    off += sum(abs(a - b) for a, b in zip(got, expected[name], strict=False))
        return off


async def read_stored(database_url: str, poll_id: str, options: int) -> Stored:
    truth = await read_truth(database_url, poll_id, options)
    questions = await read_questions(database_url, poll_id)
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        rows = await conn.fetch(
            "SELECT participant_id, qid, vote_id, answer FROM votes WHERE poll_id = $1",
            UUID(poll_id),
        )
    finally:
        await conn.close()
    after = await read_truth(database_url, poll_id, options)

    def counted(t: Any) -> Any:
        return (t.ballots, t.group_by, t.tally and (list(t.tally["counts"]), t.tally["total"]))

    stable = counted(after) == counted(truth)
    return Stored(
        stable=stable,
        ballots=truth.ballots,
        votes={
            (str(r["participant_id"]), r["qid"]): (str(r["vote_id"]), json.loads(r["answer"]))
            for r in rows
        },
        questions=questions,
        group_by=truth.group_by,
        tally=(list(truth.tally["counts"]), truth.tally["total"]) if truth.tally else None,
    )


def _answered_qids(voter: Voter) -> set[int]:
    return {int(a.get("qid", 0)) for a in voter.accepted}


def settled(voters: list[Voter], stored: Stored) -> bool:
    """Every accepted vote is in `ballots` and every voter's latest accepted answer to each
    question (or a later unanswered one) is the counted one, and every aggregate equals its
    recomputation. Redelivered messages may arrive after newer ones (a quorum queue returns
    them to its back), so the latest counting is not enough."""
    if any(str(a["vote_id"]) not in stored.ballots for v in voters for a in v.accepted):
        return False
    for voter in voters:
        for qid in _answered_qids(voter):
            counted = stored.votes.get((str(voter.participant_id), qid))
            if counted is None or counted[0] not in allowed_vote_ids(voter, qid):
                return False
    return stored.stable and stored.tally is not None and stored.aggregates_off() == 0


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


def _same_answer(frame: dict[str, Any], stored: dict[str, Any]) -> bool:
    answer = frame.get("answer")
    if answer is None:  # a first-version frame: single choice
        return stored.get("option") == frame.get("option")
    return bool(answer == stored)


def evaluate(outcome: Outcome, voters: list[Voter], stored: Stored) -> None:
    accepted_ids = {str(a["vote_id"]) for v in voters for a in v.accepted}
    outcome.sent = sum(v.sent for v in voters)
    outcome.accepted = len(accepted_ids)
    outcome.stored = len(accepted_ids & stored.ballots)
    missing = accepted_ids - stored.ballots
    wrong_latest = []
    for voter in voters:
        for qid in _answered_qids(voter):
            counted = stored.votes.get((str(voter.participant_id), qid))
            latest = voter.accepted_for(qid)[-1]
            if (
                counted is None
                or counted[0] not in allowed_vote_ids(voter, qid)
                or (counted[0] == str(latest["vote_id"]) and not _same_answer(latest, counted[1]))
            ):
                wrong_latest.append((voter.nickname, qid, latest, counted))
    outcome.lost = len(missing) + len(wrong_latest)
    by_id = {str(v.participant_id): v for v in voters}
    phantom = []  # counted, but its participant was never told of any accepted answer
    for (pid, qid), (vote_id, _) in stored.votes.items():
        voter = by_id.get(pid)
        if voter is None or (
            not voter.accepted_for(qid) and vote_id not in allowed_vote_ids(voter, qid)
        ):
            phantom.append((pid, qid))
    outcome.duplicated = len(phantom) + stored.aggregates_off()
    tally_counts = stored.tally[0] if stored.tally else []
    outcome.details.update(
        missing=sorted(missing)[:5],
        wrong_latest=[str(w) for w in wrong_latest[:5]],
        phantom=phantom[:5],
        tally=tally_counts,
        group_by=stored.group_by,
        aggregates={
            qid: {"stored": q.tally, "recomputed": q.recomputed()}
            for qid, q in sorted(stored.questions.items())
        },
        answers_per_question={qid: len(q.answers) for qid, q in sorted(stored.questions.items())},
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


def _shows(voter: Voter, question: QuestionTruth) -> bool:
    frame = voter.tallies.get(question.qid)
    expected = question.recomputed()
    if frame is None:
        return expected["total"] == 0
    return all(frame.get(k) == v for k, v in expected.items() if k != "kind")


async def screens_converge(
    voters: list[Voter], group_by: list[int], timeout: float, stored: Stored | None = None
) -> bool:
    """Every connected screen's last tally of question 0 equals `group_by`, and with `stored`,
    its last tally of every question equals that question's recomputation."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        live = [v for v in voters if v.connected]
        first = live and all(v.last_tally and v.last_tally["counts"] == group_by for v in live)
        every = stored is None or all(_shows(v, q) for v in live for q in stored.questions.values())
        if first and every:
            return True
        await asyncio.sleep(0.2)
    return False
