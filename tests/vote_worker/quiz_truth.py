"""Quiz scores recomputed independently of the worker, in SQL from the stored rows (the rule of
docs/quiz.md written again: numeric arithmetic, streaks by window functions), and a quiz run of
three questions with twenty participants whose answers and times are known."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from contracts import Vote
from tests.vote_worker.factories import answer

# Played in the order q0, q2, q1 (their opening times), so play order is not qid order.
QUIZ = [
    {"kind": "quiz", "prompt": "Capital?", "options": ["a", "b", "c", "d"], "correct": [1],
     "time_limit_s": 20, "points": 1000},
    {"kind": "quiz", "prompt": "Select all", "options": ["a", "b", "c", "d"], "correct": [0, 2],
     "time_limit_s": 10, "points": 2000},
    {"kind": "quiz", "prompt": "Last one", "options": ["a", "b", "c", "d"], "correct": [3],
     "time_limit_s": 30, "points": 1000},
    {"kind": "single", "prompt": "Not scored", "options": ["x", "y"]},
]  # fmt: skip
PLAY_ORDER = (0, 2, 1)
S = 1_000_000  # microseconds
# Per participant: qid -> (options, microseconds after the question opened); absent: no answer.
KNOWN: list[dict[int, tuple[list[int], int]]] = [
    {0: ([1], 2 * S), 2: ([3], 3 * S), 1: ([0, 2], 1 * S)},  # all correct
    {0: ([1], 2 * S), 2: ([3], 3 * S), 1: ([0, 2], 1 * S)},  # the same: an equal tie
    {0: ([1], 0)},  # 1000 at 0 µs
    {0: ([1], 10_000)},  # 999.75 -> 1000, later: behind on time
    {0: ([1], 20_000)},  # 999.5 -> 1000 (half up), later still
    {0: ([2], S), 2: ([3], 5 * S), 1: ([0, 2], 2 * S)},  # wrong, then a streak of two
    {0: ([1], 10 * S), 2: ([0], S), 1: ([0, 2], 9_999_999)},  # the streak broken
    {0: ([1], 25 * S), 1: ([0], S)},  # after the limit (clamped: P/2); a subset scores 0
    {0: ([1], S), 2: ([3], S), 1: ([0, 2, 3], S)},  # a superset scores 0
    {},  # never answered
    {},  # never answered either: tied with the one above
]


def participants(n: int = 20) -> list[tuple[UUID, str]]:
    return [(uuid.uuid4(), f"player {i:02d}") for i in range(n)]


def answers_of(n: int, seed: int = 14) -> list[dict[int, tuple[list[int], int]]]:
    """KNOWN, then seeded random answers (some wrong, some missing) for the rest."""
    rng = random.Random(seed)
    plan = list(KNOWN)
    while len(plan) < n:
        mine: dict[int, tuple[list[int], int]] = {}
        for qid in PLAY_ORDER:
            if rng.random() < 0.2:
                continue
            options = [1] if qid != 1 else [0, 2]
            if rng.random() < 0.3:
                options = sorted(rng.sample(range(4), 2 if qid == 1 else 1))
            limit = QUIZ[qid]["time_limit_s"]
            mine[qid] = (options, rng.randrange(0, limit * S))
        plan.append(mine)
    return plan


def votes_for(
    poll: UUID,
    people: list[tuple[UUID, str]],
    plan: list[dict[int, tuple[list[int], int]]],
    opened: dict[int, datetime],
) -> list[Vote]:
    votes = []
    for (pid, _), mine in zip(people, plan, strict=True):
        for qid, (options, elapsed) in mine.items():
            vote = answer(poll, pid, qid, {"kind": "quiz", "options": options}, seq=qid + 1)
            cast_at = opened[qid] + timedelta(microseconds=elapsed)
            votes.append(vote.model_copy(update={"cast_at": cast_at}))
    return votes


POINTS_SQL = """
WITH q AS (
    SELECT qid, epoch, opened_at, (spec->>'time_limit_s')::numeric AS tl,
           (spec->>'points')::numeric AS p,
           ARRAY(SELECT c::int FROM jsonb_array_elements_text(spec->'correct') AS c ORDER BY 1)
               AS correct,
           row_number() OVER (ORDER BY opened_at, position) AS n
    FROM questions WHERE poll_id = $1 AND kind = 'quiz' AND status = 'closed'
), grid AS (
    SELECT p.participant_id, q.qid, q.n, q.tl, q.p, v.answer IS NOT NULL AS answered,
           COALESCE(ARRAY(SELECT o::int FROM jsonb_array_elements_text(v.answer->'options') AS o
                          ORDER BY 1) = q.correct, false) AS correct,
           LEAST(GREATEST(EXTRACT(EPOCH FROM v.cast_at - q.opened_at), 0), q.tl) AS t
    FROM participants p CROSS JOIN q
    LEFT JOIN votes v ON v.poll_id = p.poll_id AND v.qid = q.qid
                     AND v.participant_id = p.participant_id AND v.epoch = q.epoch
    WHERE p.poll_id = $1
), runs AS (
    SELECT *, sum(CASE WHEN correct THEN 0 ELSE 1 END)
                  OVER (PARTITION BY participant_id ORDER BY n) AS breaks
    FROM grid
), streaks AS (
    SELECT *, CASE WHEN correct THEN count(*) FILTER (WHERE correct)
                  OVER (PARTITION BY participant_id, breaks ORDER BY n) ELSE 0 END AS streak
    FROM runs
)
SELECT participant_id, qid, n, correct,
       CASE WHEN correct THEN round(p * (1 - t / tl / 2)) ELSE 0 END::int AS points,
       CASE WHEN streak > 0 THEN LEAST(500, 100 * (streak - 1)) ELSE 0 END::int AS bonus,
       streak::int AS streak,
       CASE WHEN answered THEN (t * 1000000)::bigint END AS elapsed_us,
       CASE WHEN correct THEN t ELSE 0 END AS correct_t
FROM streaks
"""

SCORES_SQL = f"""
WITH points AS ({POINTS_SQL}), totals AS (
    SELECT participant_id, sum(points + bonus)::bigint AS score,
           (sum(correct_t) * 1000000)::bigint AS correct_time_us,
           (array_agg(streak ORDER BY n DESC))[1] AS streak
    FROM points GROUP BY participant_id
)
SELECT participant_id, score, correct_time_us, streak,
       RANK() OVER (ORDER BY score DESC, correct_time_us)::int AS rank
FROM totals
"""


async def expected(db: asyncpg.Connection, poll: UUID) -> tuple[set[tuple[Any, ...]], set[Any]]:
    """(quiz_points rows, quiz_scores rows) as the SQL above computes them."""
    points = {
        (r["qid"], r["participant_id"], r["correct"], r["points"], r["bonus"], r["streak"],
         r["elapsed_us"])
        for r in await db.fetch(POINTS_SQL, poll)
    }  # fmt: skip
    scores = {tuple(r.values()) for r in await db.fetch(SCORES_SQL, poll)}
    return points, scores


async def stored(db: asyncpg.Connection, poll: UUID) -> tuple[set[tuple[Any, ...]], set[Any]]:
    """(quiz_points rows, quiz_scores rows) as the worker stored them."""
    points = {
        tuple(r.values())
        for r in await db.fetch(
            "SELECT qid, participant_id, correct, points, bonus, streak, elapsed_us"
            " FROM quiz_points WHERE poll_id = $1",
            poll,
        )
    }
    scores = {
        tuple(r.values())
        for r in await db.fetch(
            "SELECT participant_id, score, correct_time_us, streak, rank"
            " FROM quiz_scores WHERE poll_id = $1",
            poll,
        )
    }
    return points, scores
