"""The worker's connections carry their timeouts: 5 s per statement, a minute for the quiz's."""

from __future__ import annotations

from vote_worker.worker import Worker


async def test_the_quiz_rescore_has_its_own_longer_statement_timeout(worker: Worker) -> None:
    assert worker.pool is not None and worker.quiz_pool is not None
    assert await worker.pool.fetchval("SHOW statement_timeout") == "5s"
    # Scoring waits for the poll's advisory lock behind other replicas' rescores, and the
    # wait counts against statement_timeout: the rescore's connections allow a minute.
    assert await worker.quiz_pool.fetchval("SHOW statement_timeout") == "1min"
    assert worker.quiz is not None
    assert await worker.quiz_pool.fetchval("SHOW application_name") == "vote-worker-quiz"
