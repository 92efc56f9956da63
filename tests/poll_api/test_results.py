"""Results from a tally, and the spreadsheet-safe CSV cells."""

from __future__ import annotations

import pytest

from poll_api.results_csv import neutralize_formula


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("=1+1", "'=1+1"), ("+A", "'+A"), ("-A", "'-A"), ("@A", "'@A"), ("\tA", "'\tA"), ("A=", "A=")],
)
def test_neutralize_formula(cell: str, expected: str) -> None:
    assert neutralize_formula(cell) == expected
