"""Every question's results as one spreadsheet-safe CSV.

The first four columns are the first version's (`option_index, option, count, percent`), so a
reader of a single-choice poll's export keeps working; the rest say which question a row is
of and carry what only some kinds have. One row per option (single, multiple, quiz, ranking),
per value of the scale (rating: `option` is the value) or per word (wordcloud: top 100).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from typing import Any

from poll_api.results import QuestionResults

HEADER = [
    "option_index",
    "option",
    "count",
    "percent",
    "question_index",
    "qid",
    "kind",
    "prompt",
    "respondents",
    "points",
    "average",
    "mean",
]
# A cell starting with one of these is a formula in Excel, LibreOffice and Google Sheets.
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralize_formula(cell: str) -> str:
    """Prefix a quote so a spreadsheet shows the text instead of evaluating it."""
    return "'" + cell if cell.startswith(_FORMULA_TRIGGERS) else cell


def _percent(count: int, total: int) -> str:
    return f"{round(100.0 * count / total, 1) if total else 0.0:.1f}"


def _rows(q: QuestionResults, rating_min: int) -> Iterator[list[Any]]:
    """(option_index, option, count, percent, points, average) per row of one question."""
    if q.kind == "ranking":
        for i, label in enumerate(q.labels or []):
            points = (q.points or [])[i] if i < len(q.points or []) else 0
            average = (q.average or [])[i] if i < len(q.average or []) else None
            yield [i, label, "", "", points, average or ""]
    elif q.kind == "rating":
        for i, count in enumerate(q.counts or []):
            yield [i, str(rating_min + i), count, _percent(count, q.total), "", ""]
    elif q.kind == "wordcloud":
        for i, word in enumerate(q.words or []):
            yield [i, word.word, word.count, _percent(word.count, q.total), "", ""]
    else:
        for option in q.options or []:
            yield [option.index, option.text, option.count, f"{option.percent:.1f}", "", ""]


def results_csv(questions: Sequence[QuestionResults], rating_minima: Sequence[int]) -> str:
    """`rating_minima[i]` is question i's scale minimum (0 or 1) for its value labels."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for q, low in zip(questions, rating_minima, strict=True):
        for index, option, count, percent, points, average in _rows(q, low):
            writer.writerow(
                [
                    index,
                    neutralize_formula(option),
                    count,
                    percent,
                    q.index,
                    q.qid,
                    q.kind,
                    neutralize_formula(q.prompt),
                    q.total,
                    points,
                    average,
                    q.mean or "",
                ]
            )
    return buffer.getvalue()
