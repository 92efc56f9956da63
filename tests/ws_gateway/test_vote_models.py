"""The Vote and vote_accepted frame the gateway builds without validation are valid ones."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from contracts import Vote
from contracts.answers import MultipleAnswer, RatingAnswer, SingleAnswer
from contracts.frames import VoteAcceptedFrame
from ws_gateway.votes import PendingVote, _vote
from ws_gateway.wire import encode


@pytest.mark.parametrize(
    "answer",
    [SingleAnswer(option=2), MultipleAnswer(options=[0, 3]), RatingAnswer(value=4)],
    ids=["single", "multiple", "rating"],
)
@pytest.mark.parametrize("client_vote_id", [None, "c-17"])
def test_the_vote_built_equals_the_validated_vote(
    answer: object, client_vote_id: str | None
) -> None:
    pending = PendingVote(
        poll_id=uuid.uuid4(),
        room_code="ABCDEF",
        participant_id=uuid.uuid4(),
        qid=3,
        question=1,
        answer=answer,  # type: ignore[arg-type]
        client_vote_id=client_vote_id,
        reply=lambda frame: None,
    )
    vote = _vote(pending, 7, 2, datetime.now(UTC))
    assert Vote.model_validate(vote.model_dump()) == vote
    assert Vote.model_validate_json(vote.model_dump_json()) == vote
    if client_vote_id is not None:
        assert vote.vote_id == uuid.uuid5(pending.participant_id, client_vote_id)
    frame = VoteAcceptedFrame.model_construct(
        vote_id=vote.vote_id,
        question=pending.question,
        qid=vote.qid,
        answer=vote.answer,
        option=vote.option,
        client_vote_id=vote.client_vote_id,
    )
    assert VoteAcceptedFrame.model_validate_json(encode(frame)) == frame
