"""What `joined` tells a participant: the current question's tally, their own answers and, in
a quiz, their latest `quiz_result` and the poll's latest `leaderboard` (`ws_gateway.quiz`).

`poll:<id>:myvotes` holds `"<participant>:<qid>" -> "<epoch>:<answer JSON>"` (written by
`confirms` after the broker confirmed); an answer of an earlier epoch (before a reset) is no
longer theirs. A first-version gateway wrote `"<participant>" -> "<epoch>:<option>"`, a
single-choice answer to question 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import redis.asyncio as aioredis
from pydantic import ValidationError

from contracts.answers import ANSWER_ADAPTER, Answer, SingleAnswer
from contracts.frames import LeaderboardFrame, MyAnswer, QuizResultFrame, TallyView
from ws_gateway.confirms import my_votes_field
from ws_gateway.fanout import Fanout
from ws_gateway.quiz import has_quiz, leaderboard_frame, parse_leaderboard, result_frame
from ws_gateway.rooms import PollEntry
from ws_gateway.tallies import parse_tally_hash, tally_view
from zephyr_runtime.keys import RedisKeys


@dataclass(frozen=True)
class Snapshot:
    tally: TallyView | None  # the current question's, when its results are visible
    my_answers: list[MyAnswer]
    my_vote: int | None  # version 1: the current single-choice question's option
    quiz_result: QuizResultFrame | None = None  # their result after the latest scored question
    leaderboard: LeaderboardFrame | None = None  # the poll's latest


def parse_my_answer(raw: str | None) -> tuple[int, Answer] | None:
    """`"<epoch>:<answer JSON>"` (or version 1's `"<epoch>:<option>"`); None if unreadable."""
    if not raw:
        return None
    epoch, _, rest = str(raw).partition(":")
    if not epoch.isdigit():
        return None
    if rest.isdigit():
        return int(epoch), SingleAnswer(option=int(rest))
    try:
        return int(epoch), ANSWER_ADAPTER.validate_json(rest)
    except ValidationError:
        return None


def my_answers(entry: PollEntry, raws: Sequence[str | None]) -> list[MyAnswer]:
    """The answers of the current epoch of each question; `raws` per question, in order."""
    found = []
    for question, raw in zip(entry.view.questions, raws, strict=True):
        parsed = parse_my_answer(raw)
        if parsed is None or parsed[0] != question.epoch or parsed[1].kind != question.kind:
            continue
        found.append(MyAnswer(question=question.index, qid=question.qid, answer=parsed[1]))
    return found


async def take_snapshot(
    redis: aioredis.Redis,
    keys: RedisKeys,
    fanout: Fanout,
    entry: PollEntry,
    participant_id: UUID,
) -> Snapshot:
    """One round trip: the current question's tally, every field of the participant and, when
    the poll has a quiz question, their quiz result and the poll's leaderboard."""
    poll_id, questions, current = entry.view.id, entry.view.questions, entry.current
    fields = [my_votes_field(participant_id, q.qid) for q in questions]
    quiz = has_quiz(entry)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hmget(keys.my_votes(poll_id), [*fields, str(participant_id)])
        if quiz:
            pipe.hget(keys.quiz_results(poll_id), str(participant_id))
            pipe.get(keys.leaderboard(poll_id))
        if current is not None:
            pipe.hgetall(keys.tally(poll_id, current.qid))
        replies = await pipe.execute()
    quiz_result, board = None, None
    if quiz:
        quiz_result = result_frame(entry, replies[1])
        scored = parse_leaderboard(replies[2])
        if scored is not None and scored.poll_id == poll_id:
            board = leaderboard_frame(entry, scored)
        replies = [replies[0], *replies[3:]]
    raws: list[str | None] = list(replies[0][: len(fields)])
    version_1 = replies[0][len(fields)]
    for n, question in enumerate(questions):
        if question.qid == 0 and raws[n] is None:
            raws[n] = version_1
    answers = my_answers(entry, raws)
    if current is None:
        return Snapshot(None, answers, None, quiz_result, board)
    tally = parse_tally_hash(poll_id, current.qid, replies[1] or {})
    if tally is not None:
        fanout.offer_tally(tally)
    tally = fanout.latest_tally(poll_id, current.qid) or tally
    visible = None
    if tally is not None and tally.epoch == current.epoch and not entry.results_hidden(current):
        visible = tally_view(tally, current.index)
    my_vote = next(
        (
            a.answer.option
            for a in answers
            if a.qid == current.qid and isinstance(a.answer, SingleAnswer)
        ),
        None,
    )
    return Snapshot(visible, answers, my_vote, quiz_result, board)
