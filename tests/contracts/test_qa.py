"""The Q&A contracts: what text a question may be, the frames, and the board's order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from contracts.frames import CLIENT_FRAME_ADAPTER, SERVER_FRAME_ADAPTER
from contracts.qa import (
    MAX_QA_CHARS,
    AskFrame,
    QaActions,
    QaBoardItem,
    QaBoardUpdated,
    UpvoteFrame,
    board_order,
    check_question_text,
)

REFUSED = [
    ("<b>bold</b> question", "markup"),
    ("<script>alert(1)</script>", "markup"),
    ("a <!-- comment", "markup"),
    ("line one\nline two", "control"),
    ("bell \x07 here", "control"),
    ("spoof \u202eevil", "control"),  # right-to-left override
    ("isolate \u2067x\u2069", "control"),
    ("zero\u200bwidth", "control"),
    ("joiner\u200dhere", "control"),
    ("bom \ufeff here", "control"),
    ("soft\u00adhyphen", "control"),
    ("x", "2 to 300"),
    ("   x   ", "2 to 300"),
    ("y" * (MAX_QA_CHARS + 1), "2 to 300"),
]
ACCEPTED = ["Why?", "Is a < b when x<5? <3", "Café & naïve → ok", "日本語の質問", "Emoji 🎉 fine"]


@pytest.mark.parametrize(("text", "word"), REFUSED)
def test_a_question_that_is_not_plain_text_is_refused(text: str, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        check_question_text(text)
    with pytest.raises(ValidationError):
        CLIENT_FRAME_ADAPTER.validate_python({"type": "ask", "text": text})


@pytest.mark.parametrize("text", ACCEPTED)
def test_plain_text_is_kept_as_typed_only_trimmed(text: str) -> None:
    assert check_question_text(f"  {text} ") == text
    frame = CLIENT_FRAME_ADAPTER.validate_python({"type": "ask", "text": text})
    assert isinstance(frame, AskFrame) and frame.text == text


def test_an_upvote_names_an_item_and_up_is_a_strict_bool() -> None:
    item = uuid.uuid4()
    frame = CLIENT_FRAME_ADAPTER.validate_python({"type": "upvote", "item": str(item)})
    assert isinstance(frame, UpvoteFrame) and frame.item == item and frame.up is True
    with pytest.raises(ValidationError):
        CLIENT_FRAME_ADAPTER.validate_python({"type": "upvote", "item": str(item), "up": "no"})
    with pytest.raises(ValidationError):
        CLIENT_FRAME_ADAPTER.validate_python({"type": "upvote", "item": "not-an-id"})


def _item(score: int, pinned: bool, minutes: int) -> QaBoardItem:
    return QaBoardItem(
        id=uuid.uuid4(),
        text=f"s{score} p{pinned} m{minutes}",
        score=score,
        status="approved",
        pinned=pinned,
        asked_at=datetime(2026, 12, 6, tzinfo=UTC) + timedelta(minutes=minutes),
        author=uuid.uuid4(),
    )


def test_the_board_is_pinned_first_then_by_score_then_oldest() -> None:
    old_low, new_high, pinned_low, old_high = (
        _item(1, False, 0),
        _item(5, False, 9),
        _item(0, True, 5),
        _item(5, False, 1),
    )
    ordered = board_order([old_low, new_high, pinned_low, old_high])
    assert ordered == [pinned_low, old_high, new_high, old_low]


def test_the_frame_of_a_board_never_carries_the_author() -> None:
    board = QaBoardUpdated(poll_id=uuid.uuid4(), version=3, items=[_item(2, False, 0)])
    frame = board.frame()
    dumped = frame.model_dump(mode="json")
    assert dumped["version"] == 3 and "author" not in dumped["items"][0]
    assert SERVER_FRAME_ADAPTER.validate_python(dumped).type == "qa"


def test_a_text_on_the_bus_is_checked_again() -> None:
    action = {
        "kind": "ask",
        "action_id": str(uuid.uuid4()),
        "poll_id": str(uuid.uuid4()),
        "item_id": str(uuid.uuid4()),
        "participant_id": str(uuid.uuid4()),
        "text": "<img src=x>",
        "seq": 1,
        "occurred_at": "2026-12-06T00:00:00Z",
    }
    with pytest.raises(ValidationError):
        QaActions.model_validate({"actions": [action]})
    assert QaActions.model_validate({"actions": [{**action, "text": "fine?"}]}).actions
