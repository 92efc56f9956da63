"""Results of a poll from its tally, as JSON-ready models and as a spreadsheet-safe CSV."""

from __future__ import annotations

import csv
import io

from poll_api.crud import TallyRow
from poll_api.models import OptionResult, PollResults

# A cell starting with one of these is a formula in Excel, LibreOffice and Google Sheets.
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def build_results(options: list[str], epoch: int, tally: TallyRow | None) -> PollResults:
    """Counts per option; a missing tally or one from an earlier epoch counts as zeros."""
    counts = [0] * len(options)
    total = 0
    version = 0
    if tally is not None:
        version = tally.version
        if tally.epoch == epoch:
            for index, count in enumerate(tally.counts[: len(options)]):
                counts[index] = count
            total = tally.total
    return PollResults(
        counts=counts,
        total=total,
        version=version,
        options=[
            OptionResult(
                index=index,
                text=text,
                count=counts[index],
                percent=round(100.0 * counts[index] / total, 1) if total else 0.0,
            )
            for index, text in enumerate(options)
        ],
    )


def neutralize_formula(cell: str) -> str:
    """Prefix a quote so a spreadsheet shows the text instead of evaluating it."""
    return "'" + cell if cell.startswith(_FORMULA_TRIGGERS) else cell


def results_csv(results: PollResults) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["option_index", "option", "count", "percent"])
    for option in results.options:
        writer.writerow(
            [option.index, neutralize_formula(option.text), option.count, f"{option.percent:.1f}"]
        )
    return buffer.getvalue()
