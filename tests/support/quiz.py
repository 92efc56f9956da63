"""A quiz's scores recomputed from what is stored, independently of contracts.scoring.

Reads poll-api's `questions`, the worker's `votes` and `participants` and applies docs/quiz.md's
rule in integer microseconds; `read_scores` reads what the worker stored in `quiz_scores`.
Tests compare the two, and the ranks with SQL's own `RANK()`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

_QUESTIONS = """
SELECT qid, spec::text AS spec, epoch, opened_at
FROM questions
WHERE poll_id = $1 AND kind = 'quiz' AND status = 'closed'
ORDER BY opened_at, position
"""
_VOTES = """
SELECT v.participant_id, v.qid, v.answer::text AS answer, v.cast_at
FROM votes v JOIN questions q ON q.poll_id = v.poll_id AND q.qid = v.qid AND q.epoch = v.epoch
WHERE v.poll_id = $1 AND q.kind = 'quiz' AND q.status = 'closed'
"""
_PARTICIPANTS = "SELECT participant_id, nickname FROM participants WHERE poll_id = $1"
_STORED = """
SELECT participant_id, score, correct_time_us, rank,
       RANK() OVER (ORDER BY score DESC, correct_time_us) AS sql_rank
FROM quiz_scores WHERE poll_id = $1
"""


@dataclass(frozen=True)
class Expected:
    score: int
    correct_time_us: int
    streak: int
    points: dict[int, int]  # qid -> points + bonus


def points_of(points: int, elapsed_us: int, limit_us: int) -> int:
    """round(P x (1 - (t / T) / 2)), half up, in integers: (P(2T - t) + T) // 2T."""
    t = min(max(elapsed_us, 0), limit_us)
    return (points * (2 * limit_us - t) + limit_us) // (2 * limit_us)


def _chosen(answer: dict[str, Any]) -> set[int]:
    if answer.get("options") is not None:
        return set(answer["options"])
    return {answer["option"]} if answer.get("option") is not None else set()


async def recompute(database_url: str, poll_id: str) -> dict[str, Expected]:
    """Every participant's expected score, streak and time from the stored rows."""
    pid = UUID(poll_id)
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        questions = await conn.fetch(_QUESTIONS, pid)
        votes = await conn.fetch(_VOTES, pid)
        people = await conn.fetch(_PARTICIPANTS, pid)
    finally:
        await conn.close()
    answers = {(str(v["participant_id"]), v["qid"]): v for v in votes}
    expected: dict[str, Expected] = {}
    for person in people:
        who = str(person["participant_id"])
        score = time_us = streak = 0
        points: dict[int, int] = {}
        for q in questions:
            spec = json.loads(q["spec"])
            vote = answers.get((who, q["qid"]))
            limit_us = spec["time_limit_s"] * 1_000_000
            right = vote is not None and _chosen(json.loads(vote["answer"])) == set(spec["correct"])
            if not right or vote is None:
                streak = 0
                points[q["qid"]] = 0
                continue
            delta = vote["cast_at"] - q["opened_at"]
            micros = delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds
            elapsed = min(max(micros, 0), limit_us)
            streak += 1
            earned = points_of(spec["points"], elapsed, limit_us) + min(500, 100 * (streak - 1))
            points[q["qid"]] = earned
            score += earned
            time_us += elapsed
        expected[who] = Expected(score, time_us, streak, points)
    return expected


async def read_scores(database_url: str, poll_id: str) -> dict[str, dict[str, int]]:
    """participant id -> {score, correct_time_us, rank, sql_rank} as the worker stored them."""
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        rows = await conn.fetch(_STORED, UUID(poll_id))
    finally:
        await conn.close()
    return {
        str(r["participant_id"]): {
            "score": r["score"],
            "correct_time_us": r["correct_time_us"],
            "rank": r["rank"],
            "sql_rank": r["sql_rank"],
        }
        for r in rows
    }


def mentions(frame: Any, key: str) -> bool:
    """Whether `key` appears anywhere in a (nested) frame."""
    if isinstance(frame, dict):
        return key in frame or any(mentions(v, key) for v in frame.values())
    if isinstance(frame, list):
        return any(mentions(v, key) for v in frame)
    return False
