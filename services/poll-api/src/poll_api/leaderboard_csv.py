"""The host's leaderboard export: one spreadsheet-safe CSV row per ranked participant.

Columns: `nickname`, then for each closed quiz question n (1-based, in the run's order)
`q<n>_answer` (the option labels chosen, `;` joined), `q<n>_time_s` (seconds from its opening
to the answer, 3 decimals), `q<n>_points` and `q<n>_bonus`, then `total` and `rank`.

The rows are read page by page in rank order (keyset pagination on score, time, participant
id), each page in its own short transaction: neither the table nor a database connection is
held while a slow client downloads. A quiz question scored during the download can move a
participant from one page to another; the export after the close is exact.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.polls import PollStatus
from contracts.questions import QuizQuestion
from poll_api.results_csv import neutralize_formula
from poll_api.run import PollRun, effective_status, spec_of

PAGE_SIZE = 500

_FIRST_PAGE = text(
    """
    SELECT participant_id, nickname, score, correct_time_us, rank
    FROM quiz_scores
    WHERE poll_id = :poll_id
    ORDER BY score DESC, correct_time_us, participant_id
    LIMIT :limit
    """
)
# The rows after (score, time, participant) in the order score DESC, time, participant.
_NEXT_PAGE = text(
    """
    SELECT participant_id, nickname, score, correct_time_us, rank
    FROM quiz_scores
    WHERE poll_id = :poll_id
      AND (score < :score
           OR (score = :score AND (correct_time_us, participant_id) > (:time_us, :participant)))
    ORDER BY score DESC, correct_time_us, participant_id
    LIMIT :limit
    """
)
_POINTS = text(
    """
    SELECT participant_id, qid, points, bonus, elapsed_us
    FROM quiz_points
    WHERE poll_id = :poll_id AND participant_id = ANY(:participants) AND qid = ANY(:qids)
    """
)
_ANSWERS = text(
    """
    SELECT participant_id, qid, epoch, answer
    FROM votes
    WHERE poll_id = :poll_id AND participant_id = ANY(:participants) AND qid = ANY(:qids)
    """
)

# Runs a page's read in a transaction of its own (poll_api.reads.ReadSession.run).
PageReader = Callable[[Callable[[AsyncSession], Awaitable["Page"]]], Awaitable["Page"]]


@dataclass(frozen=True)
class QuizColumn:
    """A closed quiz question of the export: its number, qid, epoch and option labels."""

    number: int
    qid: int
    epoch: int
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Page:
    scores: Sequence[Any]  # rows of quiz_scores, in rank order
    points: dict[tuple[uuid.UUID, int], Any]  # (participant, qid) -> row of quiz_points
    answers: dict[tuple[uuid.UUID, int], list[int]]  # (participant, qid) -> options chosen


def quiz_columns(run: PollRun, now: datetime) -> list[QuizColumn]:
    """The run's closed quiz questions, in its order."""
    columns = []
    for question in run.questions:
        spec = spec_of(question)
        if isinstance(spec, QuizQuestion) and effective_status(question, now) == PollStatus.CLOSED:
            columns.append(
                QuizColumn(question.position + 1, question.qid, question.epoch, tuple(spec.options))
            )
    return columns


def header(columns: Sequence[QuizColumn]) -> list[str]:
    cells = ["nickname"]
    for c in columns:
        cells += [f"q{c.number}_answer", f"q{c.number}_time_s", f"q{c.number}_points"]
        cells.append(f"q{c.number}_bonus")
    return [*cells, "total", "rank"]


def seconds_text(elapsed_us: int | None) -> str:
    """Microseconds as seconds with 3 decimals, rounded half up exactly ("" without answer)."""
    if elapsed_us is None:
        return ""
    ms = (int(elapsed_us) + 500) // 1000
    return f"{ms // 1000}.{ms % 1000:03d}"


def _options_of(answer: Any) -> list[int]:
    options = answer.get("options") if isinstance(answer, dict) else None
    if isinstance(options, list):
        return [o for o in options if isinstance(o, int) and not isinstance(o, bool)]
    option = answer.get("option") if isinstance(answer, dict) else None
    return [option] if isinstance(option, int) and not isinstance(option, bool) else []


async def read_page(
    session: AsyncSession,
    poll_id: uuid.UUID,
    columns: Sequence[QuizColumn],
    after: Any | None,
) -> Page:
    """The page of participants after the row `after` (None: the first), with their points and
    answers of `columns`' questions (an answer of an earlier epoch is not theirs any more)."""
    connection = await session.connection()
    params: dict[str, Any] = {"poll_id": poll_id, "limit": PAGE_SIZE}
    query = _FIRST_PAGE
    if after is not None:
        query = _NEXT_PAGE
        params.update(
            score=after.score, time_us=after.correct_time_us, participant=after.participant_id
        )
    scores = (await connection.execute(query, params)).all()
    if not scores or not columns:
        return Page(scores, {}, {})
    wanted = {
        "poll_id": poll_id,
        "participants": [row.participant_id for row in scores],
        "qids": [c.qid for c in columns],
    }
    points = {
        (row.participant_id, int(row.qid)): row
        for row in (await connection.execute(_POINTS, wanted)).all()
    }
    epochs = {c.qid: c.epoch for c in columns}
    answers = {
        (row.participant_id, int(row.qid)): _options_of(row.answer)
        for row in (await connection.execute(_ANSWERS, wanted)).all()
        if int(row.epoch) == epochs.get(int(row.qid))
    }
    return Page(scores, points, answers)


def page_csv(page: Page, columns: Sequence[QuizColumn]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in page.scores:
        cells: list[Any] = [neutralize_formula(str(row.nickname))]
        for c in columns:
            key = (row.participant_id, c.qid)
            chosen = page.answers.get(key, [])
            labels = [c.labels[i] if 0 <= i < len(c.labels) else f"#{i + 1}" for i in chosen]
            cells.append(neutralize_formula(";".join(labels)))
            scored = page.points.get(key)
            cells.append(seconds_text(scored.elapsed_us if scored is not None and chosen else None))
            cells.append(int(scored.points) if scored is not None else 0)
            cells.append(int(scored.bonus) if scored is not None else 0)
        writer.writerow([*cells, int(row.score), int(row.rank)])
    return buffer.getvalue()


def header_csv(columns: Sequence[QuizColumn]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(header(columns))
    return buffer.getvalue()


async def leaderboard_csv(
    read: PageReader, poll_id: uuid.UUID, columns: Sequence[QuizColumn], first: Page
) -> AsyncIterator[str]:
    """The CSV in pieces: the header and `first` (read before the answer started, so a
    database error is still a clean 503), then one piece per further page."""
    yield header_csv(columns)
    page = first
    while page.scores:
        yield page_csv(page, columns)
        if len(page.scores) < PAGE_SIZE:
            return
        after = page.scores[-1]

        async def next_page(session: AsyncSession, after: Any = after) -> Page:
            return await read_page(session, poll_id, columns, after)

        page = await read(next_page)
