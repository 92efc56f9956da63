"""The worker's retention with a run of questions: every question's rows of a deleted poll go,
another poll's stay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg

from tests.vote_worker.factories import answer, create_run, set_question, single, vote
from tests.vote_worker.test_qa_record import asked, up
from vote_worker.qa_record import record_qa
from vote_worker.quiz import recompute_quiz
from vote_worker.record import record_votes
from vote_worker.retention import TABLES, delete_orphaned_rows

RUN = [
    single(2),
    {"kind": "rating", "prompt": "How good?"},
    {"kind": "ranking", "prompt": "Order", "options": ["a", "b", "c"]},
    {"kind": "quiz", "prompt": "Which?", "options": ["a", "b"], "correct": [0], "time_limit_s": 10},
]


async def _rows(db: asyncpg.Connection, poll: uuid.UUID) -> dict[str, int]:
    return {
        table: await db.fetchval(f"SELECT count(*) FROM {table} WHERE poll_id = $1", poll)
        for table in TABLES
    }


async def test_every_questions_rows_of_a_deleted_poll_are_deleted(db: asyncpg.Connection) -> None:
    gone, kept = await create_run(db, RUN), await create_run(db, RUN)
    for poll in (gone, kept):
        who = uuid.uuid4()
        await db.execute("INSERT INTO participants VALUES ($1, $2, 'Ann', now(), now())", poll, who)
        await record_votes(
            db,
            [
                vote(poll, who, 1, seq=1),
                answer(poll, who, 1, {"kind": "rating", "value": 4}, seq=2),
                answer(poll, who, 2, {"kind": "ranking", "ranking": [2, 0, 1]}, seq=3),
                answer(poll, who, 3, {"kind": "quiz", "options": [0]}, seq=4),
            ],
        )
        await set_question(db, poll, 3, status="closed", opened_at=datetime.now(UTC))
        await recompute_quiz(db, poll)
        await db.execute("UPDATE polls SET settings = '{\"qa_enabled\": true}' WHERE id = $1", poll)
        question = asked(poll, uuid.uuid4())
        await record_qa(db, [question, up(poll, question.item_id, who, True, 5)])
    before = await _rows(db, gone)
    assert before == {
        **{"ballots": 4, "votes": 4, "participants": 1, "tallies": 4},
        **{"quiz_points": 1, "quiz_scores": 1, "quiz_boards": 1},
        **{"qa_items": 1, "qa_votes": 1, "qa_boards": 1},
    }
    await db.execute("DELETE FROM polls WHERE id = $1", gone)  # poll-api's retention

    report = await delete_orphaned_rows(db, batch_size=1)
    assert report.polls >= 1
    assert await _rows(db, gone) == dict.fromkeys(TABLES, 0)
    assert await _rows(db, kept) == before
