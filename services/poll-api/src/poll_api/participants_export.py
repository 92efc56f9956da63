"""The host's per-participant export: every participant with each of their answers and its
time, as CSV (one row per participant) or JSON, streamed page by page.

CSV columns: `participant_id`, `nickname`, `joined_at`, then for each question n (1-based, in
the run's order) `q<n>_answer` (option labels; `;` between several, ` > ` between ranks; the
value of a rating; the words of a word cloud) and `q<n>_answered_at` (when the gateway accepted
it, ISO 8601 UTC). JSON: `{"poll": {...}, "questions": [...], "participants": [{participant_id,
nickname, joined_at, answers: [{question, qid, kind, answer, answered_at}]}]}`, where `answer`
is the stored answer object (`contracts.answers`).

Participants are read in pages of `PAGE_SIZE` by participant id (keyset pagination), each page
in its own short transaction, so a 10,000-participant poll is never held in memory and no
connection waits on a slow download. Only answers of a question's current epoch count (a reset
discards the earlier ones), as in the results.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from poll_api.results_csv import neutralize_formula
from poll_api.run import PollRun

PAGE_SIZE = 500

_PARTICIPANTS = text(
    """
    SELECT participant_id, nickname, joined_at FROM participants
    WHERE poll_id = :poll_id AND participant_id > :after
    ORDER BY participant_id
    LIMIT :limit
    """
)
_ANSWERS = text(
    """
    SELECT participant_id, qid, epoch, answer, cast_at FROM votes
    WHERE poll_id = :poll_id AND participant_id = ANY(:participants)
    """
)
_FIRST = uuid.UUID(int=0)


@dataclass(frozen=True)
class Column:
    number: int  # 1-based, the run's order
    qid: int
    epoch: int
    kind: str
    spec: dict[str, Any]


@dataclass(frozen=True)
class Page:
    participants: Sequence[Any]
    answers: dict[tuple[uuid.UUID, int], tuple[dict[str, Any], datetime]]


PageReader = Callable[[Callable[[AsyncSession], Awaitable[Page]]], Awaitable[Page]]


def columns_of(run: PollRun) -> list[Column]:
    return [Column(q.position + 1, q.qid, q.epoch, q.kind, dict(q.spec)) for q in run.questions]


async def read_page(
    session: AsyncSession, poll_id: uuid.UUID, columns: Sequence[Column], after: uuid.UUID
) -> Page:
    connection = await session.connection()
    people = (
        await connection.execute(
            _PARTICIPANTS, {"poll_id": poll_id, "after": after, "limit": PAGE_SIZE}
        )
    ).all()
    if not people:
        return Page(people, {})
    epochs = {c.qid: c.epoch for c in columns}
    rows = await connection.execute(
        _ANSWERS, {"poll_id": poll_id, "participants": [p.participant_id for p in people]}
    )
    answers = {
        (row.participant_id, int(row.qid)): (row.answer, row.cast_at)
        for row in rows
        if epochs.get(int(row.qid)) == int(row.epoch) and isinstance(row.answer, dict)
    }
    return Page(people, answers)


def _label(options: list[Any], index: Any) -> str:
    if isinstance(index, int) and 0 <= index < len(options):
        return str(options[index])
    return f"#{index}"


def answer_text(column: Column, answer: dict[str, Any]) -> str:
    """An answer as a spreadsheet reader wants it: labels, not indexes."""
    options = list(column.spec.get("options") or [])
    if "option" in answer:
        return _label(options, answer["option"])
    if "options" in answer:
        return ";".join(_label(options, i) for i in answer["options"])
    if "ranking" in answer:
        return " > ".join(_label(options, i) for i in answer["ranking"])
    if "value" in answer:
        return str(answer["value"])
    if "words" in answer:
        return ";".join(str(w) for w in answer["words"])
    return orjson.dumps(answer).decode()


def header_csv(columns: Sequence[Column]) -> str:
    cells = ["participant_id", "nickname", "joined_at"]
    for c in columns:
        cells += [f"q{c.number}_answer", f"q{c.number}_answered_at"]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue()


def page_csv(page: Page, columns: Sequence[Column]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for person in page.participants:
        cells: list[str] = [
            str(person.participant_id),
            neutralize_formula(str(person.nickname)),
            person.joined_at.isoformat(),
        ]
        for c in columns:
            found = page.answers.get((person.participant_id, c.qid))
            if found is None:
                cells += ["", ""]
            else:
                cells += [neutralize_formula(answer_text(c, found[0])), found[1].isoformat()]
        writer.writerow(cells)
    return buffer.getvalue()


def page_json(page: Page, columns: Sequence[Column], first: bool) -> str:
    items = []
    for person in page.participants:
        answers = []
        for c in columns:
            found = page.answers.get((person.participant_id, c.qid))
            if found is not None:
                answers.append(
                    {
                        "question": c.number - 1,
                        "qid": c.qid,
                        "kind": c.kind,
                        "answer": found[0],
                        "answered_at": found[1],
                    }
                )
        item = {
            "participant_id": str(person.participant_id),  # asyncpg's UUID is its own type
            "nickname": person.nickname,
            "joined_at": person.joined_at,
            "answers": answers,
        }
        items.append(orjson.dumps(item).decode())
    body = ",".join(items)
    return body if first or not body else "," + body


def head_json(run: PollRun, columns: Sequence[Column]) -> str:
    head = {
        "poll": {"id": str(run.poll.id), "room_code": run.poll.room_code, "title": run.poll.title},
        "questions": [
            {"index": c.number - 1, "qid": c.qid, "kind": c.kind, "prompt": c.spec.get("prompt")}
            for c in columns
        ],
    }
    return orjson.dumps(head).decode()[:-1] + ',"participants":['


async def pages(
    read: PageReader, poll_id: uuid.UUID, columns: Sequence[Column], first: Page
) -> AsyncIterator[Page]:
    """`first` (read before the answer started, so a database error is still a clean 503),
    then every further page."""
    page = first
    while page.participants:
        yield page
        if len(page.participants) < PAGE_SIZE:
            return
        after = page.participants[-1].participant_id

        async def next_page(session: AsyncSession, after: uuid.UUID = after) -> Page:
            return await read_page(session, poll_id, columns, after)

        page = await read(next_page)


async def export_csv(
    read: PageReader, poll_id: uuid.UUID, columns: Sequence[Column], first: Page
) -> AsyncIterator[str]:
    yield header_csv(columns)
    async for page in pages(read, poll_id, columns, first):
        yield page_csv(page, columns)


async def export_json(
    read: PageReader, run: PollRun, columns: Sequence[Column], first: Page
) -> AsyncIterator[str]:
    yield head_json(run, columns)
    started = False
    async for page in pages(read, run.poll.id, columns, first):
        chunk = page_json(page, columns, not started)
        started = started or bool(chunk)
        yield chunk
    yield "]}"


def first_page_reader(
    poll_id: uuid.UUID, columns: Sequence[Column]
) -> Callable[[AsyncSession], Awaitable[Page]]:
    async def first(session: AsyncSession) -> Page:
        return await read_page(session, poll_id, columns, _FIRST)

    return first
