"""The SQL of quiz scoring: what a recomputation reads (poll-api's `questions`, `votes`,
`participants`, `tallies`) and how it replaces a poll's `quiz_points`, `quiz_scores` and
`quiz_boards` rows. Every statement is about one poll."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

import asyncpg

# pg_advisory_xact_lock(int, int): this constant names quiz scoring ("QUIZ"), the second key
# the poll; a hash collision only serialises two polls' recomputations.
LOCK_CLASS = 0x5155495A
LOCK = "SELECT pg_advisory_xact_lock($1::integer, hashtext($2::text))"

# In the order they were played: opening time, then position.
CLOSED_QUIZ_QUESTIONS = """
SELECT qid, position, epoch, opened_at, spec::text AS spec
FROM questions
WHERE poll_id = $1 AND kind = 'quiz' AND status = 'closed'
ORDER BY opened_at NULLS LAST, position
"""

# Only the answers of each question's epoch as read above (a reset committed since is not
# mixed in: the epochs come from the same transaction's first read).
ANSWERS = """
SELECT v.qid, v.participant_id, (v.answer->'options')::text AS options, v.cast_at
FROM votes v
JOIN unnest($2::smallint[], $3::integer[]) AS q(qid, epoch)
  ON v.qid = q.qid AND v.epoch = q.epoch
WHERE v.poll_id = $1 AND v.answer->>'kind' = 'quiz'
"""

PARTICIPANTS = "SELECT participant_id, nickname FROM participants WHERE poll_id = $1"

TALLY_COUNTS = "SELECT epoch, counts FROM tallies WHERE poll_id = $1 AND qid = $2"

BOARD_EXISTS = "SELECT EXISTS (SELECT 1 FROM quiz_boards WHERE poll_id = $1)"

BUMP_BOARD = """
INSERT INTO quiz_boards (poll_id, version, qid, participants, updated_at)
VALUES ($1, 1, $2, $3, now())
ON CONFLICT (poll_id) DO UPDATE
    SET version = quiz_boards.version + 1, qid = excluded.qid,
        participants = excluded.participants, updated_at = now()
RETURNING version
"""

# After `closed`: was it a quiz question (any of the poll's with qid NULL)?
CLOSED_A_QUIZ = """
SELECT EXISTS (
    SELECT 1 FROM questions
    WHERE poll_id = $1 AND kind = 'quiz' AND ($2::smallint IS NULL OR qid = $2)
)
"""

# After `reset` or `question_deleted`: the poll was scored and the question is a quiz or gone.
RESET_A_SCORED_QUIZ = """
SELECT EXISTS (SELECT 1 FROM quiz_boards WHERE poll_id = $1)
   AND NOT EXISTS (SELECT 1 FROM questions WHERE poll_id = $1 AND qid = $2 AND kind <> 'quiz')
"""

# Which of these (poll, question) pairs are closed quiz questions: their late answers rescore.
CLOSED_AMONG = """
SELECT DISTINCT q.poll_id
FROM questions q
JOIN unnest($1::uuid[], $2::smallint[]) AS k(poll_id, qid)
  ON q.poll_id = k.poll_id AND q.qid = k.qid
WHERE q.kind = 'quiz' AND q.status = 'closed'
"""

# Polls with a closed quiz question, recently active: the reconciler checks their Redis board.
SCORED_POLLS = """
SELECT DISTINCT q.poll_id
FROM questions q
LEFT JOIN quiz_boards b ON b.poll_id = q.poll_id
WHERE q.kind = 'quiz' AND q.status = 'closed'
  AND (q.updated_at > now() - make_interval(secs => $1)
       OR b.updated_at > now() - make_interval(secs => $1))
LIMIT $2
"""

POINTS_COLUMNS = ("poll_id", "qid", "participant_id", "correct", "points", "bonus", "streak")
SCORES_COLUMNS = ("poll_id", "participant_id", "nickname", "score", "correct_time_us", "streak")


async def replace_rows(
    conn: asyncpg.Connection,
    poll_id: UUID,
    points: Iterable[Sequence[Any]],
    scores: Iterable[Sequence[Any]],
) -> None:
    """The poll's points and scores become exactly these rows (COPY: 10,000s of rows)."""
    await conn.execute("DELETE FROM quiz_points WHERE poll_id = $1", poll_id)
    await conn.execute("DELETE FROM quiz_scores WHERE poll_id = $1", poll_id)
    await conn.copy_records_to_table(
        "quiz_points", records=points, columns=[*POINTS_COLUMNS, "elapsed_us"]
    )
    await conn.copy_records_to_table(
        "quiz_scores", records=scores, columns=[*SCORES_COLUMNS, "rank", "version"]
    )
