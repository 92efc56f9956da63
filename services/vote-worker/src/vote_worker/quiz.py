"""A poll's quiz scores, recomputed from the stored answers (docs/quiz.md).

`recompute_quiz` is pure SQL on one connection, like `record_votes`: under a per-poll advisory
lock it reads the closed quiz questions (in the order played), their answers of the current
epoch and every participant, scores them with `contracts.scoring` (`ScoreCard.after`,
`rank_standings`) and replaces the poll's `quiz_points` and `quiz_scores` in one transaction
at the board's next version. Recomputing is idempotent: only the version moves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from functools import partial
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from contracts import QuizScored
from contracts.answers import QuizAnswer
from contracts.live import MAX_LEADERBOARD_TOP, LeaderboardEntry
from contracts.questions import QuizQuestion
from contracts.scoring import QuizResponse, ScoreCard, Standing, rank_standings
from vote_worker import quiz_sql as sql
from vote_worker.questions import SPECS

log = logging.getLogger(__name__)

US = 1_000_000
# From this many participants on, scoring runs in a thread.
THREAD_FROM = 500


@dataclass(frozen=True)
class PlayedQuestion:
    """A closed quiz question, as scored: its spec, its epoch and when it opened."""

    qid: int
    epoch: int
    opened_at: datetime | None
    spec: QuizQuestion

    def elapsed(self, cast_at: datetime) -> timedelta:
        if self.opened_at is None:  # poll-api sets it on every open; never seen closed without
            return timedelta(0)
        return cast_at - self.opened_at


@dataclass(frozen=True)
class ParticipantResult:
    participant_id: UUID
    nickname: str
    card: ScoreCard
    rank: int


@dataclass(frozen=True)
class QuizOutcome:
    """One recomputation as committed: the ranked participants at `version`."""

    poll_id: UUID
    version: int
    last: PlayedQuestion | None  # the question scored last; None when no quiz question is closed
    counts: list[int]
    results: list[ParticipantResult]  # in rank order

    def message(self) -> QuizScored | None:
        if self.last is None:
            return None
        top = [
            LeaderboardEntry(rank=r.rank, nickname=r.nickname, score=r.card.score)
            for r in self.results[:MAX_LEADERBOARD_TOP]
        ]
        return QuizScored(
            poll_id=self.poll_id,
            qid=self.last.qid,
            epoch=self.last.epoch,
            correct_options=list(self.last.spec.correct),
            counts=self.counts,
            top=top,
            participants=len(self.results),
            version=self.version,
        )

    def entries(self) -> list[tuple[str, bytes]]:
        """Participant id -> their result after the last question (`RedisKeys.quiz_results`)."""
        if self.last is None:
            return []
        qid = self.last.qid
        return [
            (
                str(r.participant_id),
                orjson.dumps(
                    {
                        "qid": qid,
                        "correct": r.card.questions[-1].correct,
                        "points": r.card.questions[-1].points,
                        "bonus": r.card.questions[-1].bonus,
                        "streak": r.card.questions[-1].streak,
                        "score": r.card.score,
                        "rank": r.rank,
                        "version": self.version,
                    }
                ),
            )
            for r in self.results
        ]


Responses = Mapping[tuple[int, UUID], QuizResponse]


def score_poll(
    questions: Sequence[PlayedQuestion], responses: Responses, nicknames: Mapping[UUID, str]
) -> list[ParticipantResult]:
    """Everyone who joined (or answered) scored over `questions` in order, in rank order."""
    people = set(nicknames).union(pid for _, pid in responses)
    cards: dict[UUID, ScoreCard] = {}
    for pid in people:
        card = ScoreCard()
        for question in questions:
            card = card.after(question.spec, responses.get((question.qid, pid)))
        cards[pid] = card
    ranked = rank_standings(
        Standing(pid, card.score, card.correct_time, nicknames.get(pid, ""))
        for pid, card in cards.items()
    )
    return [
        ParticipantResult(
            r.standing.participant_id, r.standing.nickname, cards[r.standing.participant_id], r.rank
        )
        for r in ranked
    ]


def _us(seconds: Fraction) -> int:
    return seconds.numerator * US // seconds.denominator  # exact: whole microseconds


Row = tuple[Any, ...]


def scored_rows(
    poll_id: UUID,
    questions: Sequence[PlayedQuestion],
    responses: Responses,
    nicknames: Mapping[UUID, str],
    version: int,
) -> tuple[list[ParticipantResult], list[Row], list[Row]]:
    """The ranked results and their `quiz_points` and `quiz_scores` rows."""
    results = score_poll(questions, responses, nicknames)
    points: list[Row] = []
    scores: list[Row] = []
    for r in results:
        for question, scored in zip(questions, r.card.questions, strict=True):
            elapsed = None if scored.elapsed is None else _us(scored.elapsed)
            points.append(
                (
                    poll_id,
                    question.qid,
                    r.participant_id,
                    scored.correct,
                    scored.points,
                    scored.bonus,
                    scored.streak,
                    elapsed,
                )
            )
        scores.append(
            (
                poll_id,
                r.participant_id,
                r.nickname,
                r.card.score,
                _us(r.card.correct_time),
                r.card.streak,
                r.rank,
                version,
            )
        )
    return results, points, scores


async def _closed_questions(conn: asyncpg.Connection, poll_id: UUID) -> list[PlayedQuestion]:
    played = []
    for row in await conn.fetch(sql.CLOSED_QUIZ_QUESTIONS, poll_id):
        spec = SPECS.parse((poll_id, row["qid"]), row["spec"])
        if not isinstance(spec, QuizQuestion):
            log.error(
                "closed quiz question %s/%s has no quiz spec: not scored", poll_id, row["qid"]
            )
            continue
        played.append(PlayedQuestion(row["qid"], row["epoch"], row["opened_at"], spec))
    return played


def _answer(stored: str | None) -> QuizAnswer | None:
    options = orjson.loads(stored) if stored else None
    if not isinstance(options, list) or not options or not all(type(o) is int for o in options):
        return None
    # Stored answers were validated and normalised when recorded: no second validation.
    return QuizAnswer.model_construct(kind="quiz", options=sorted(set(options)))


async def _responses(
    conn: asyncpg.Connection, poll_id: UUID, questions: Sequence[PlayedQuestion]
) -> dict[tuple[int, UUID], QuizResponse]:
    by_qid = {q.qid: q for q in questions}
    found: dict[tuple[int, UUID], QuizResponse] = {}
    answers: dict[str, QuizAnswer] = {}  # by stored options: a few distinct answers
    rows = await conn.fetch(
        sql.ANSWERS, poll_id, [q.qid for q in questions], [q.epoch for q in questions]
    )
    for row in rows:
        answer = answers.get(row["options"]) or _answer(row["options"])
        if answer is None:
            log.error(
                "a stored quiz answer of %s/%s has no options: not scored", poll_id, row["qid"]
            )
            continue
        answers[row["options"]] = answer
        question = by_qid[row["qid"]]
        found[(row["qid"], row["participant_id"])] = QuizResponse(
            answer, question.elapsed(row["cast_at"])
        )
    return found


async def _counts(
    conn: asyncpg.Connection, poll_id: UUID, last: PlayedQuestion, responses: Responses
) -> list[int]:
    """The last question's counts: its tally's, or counted here when the tally lags."""
    row = await conn.fetchrow(sql.TALLY_COUNTS, poll_id, last.qid)
    if (
        row is not None
        and row["epoch"] == last.epoch
        and len(row["counts"]) == len(last.spec.options)
    ):
        return list(row["counts"])
    counts = [0] * len(last.spec.options)
    for (qid, _), response in responses.items():
        if qid == last.qid:
            for option in response.answer.options:
                if 0 <= option < len(counts):
                    counts[option] += 1
    return counts


async def recompute_quiz(conn: asyncpg.Connection, poll_id: UUID) -> QuizOutcome | None:
    """Recompute and replace a poll's quiz scores in one transaction; the outcome committed.

    None when the poll has no closed quiz question and was never scored. When it was scored but
    no quiz question is closed any more (all reset), its rows go and the outcome has no `last`.
    """
    async with conn.transaction():
        await conn.execute(sql.LOCK, sql.LOCK_CLASS, str(poll_id))
        questions = await _closed_questions(conn, poll_id)
        if not questions and not await conn.fetchval(sql.BOARD_EXISTS, poll_id):
            return None
        responses: Responses = {}
        nicknames: dict[UUID, str] = {}
        if questions:
            responses = await _responses(conn, poll_id, questions)
            rows = await conn.fetch(sql.PARTICIPANTS, poll_id)
            nicknames = {row["participant_id"]: row["nickname"] for row in rows}
        last = questions[-1] if questions else None
        people = len(set(nicknames).union(pid for _, pid in responses))
        qid = None if last is None else last.qid
        version = await conn.fetchval(sql.BUMP_BOARD, poll_id, qid, people)
        score = partial(scored_rows, poll_id, questions, responses, nicknames, version)
        # 10,000s of cards take a while: in a thread, the event loop keeps flushing meanwhile.
        if people >= THREAD_FROM:
            results, points, scores = await asyncio.to_thread(score)
        else:
            results, points, scores = score()
        await sql.replace_rows(conn, poll_id, points, scores)
        counts = [] if last is None else await _counts(conn, poll_id, last, responses)
    return QuizOutcome(poll_id, version, last, counts, results)
