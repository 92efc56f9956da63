"""record_votes with answers of every kind, per question, against the real Postgres: each kind
aggregated exactly (equal to a recomputation from the stored answers, as tests/support/truth.py
recomputes it), latest wins, redeliveries count once, invalid answers are never stored, a reset
of one question leaves the others, drifted counters are recounted."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from typing import Any
from uuid import UUID

import asyncpg

from contracts.aggregates import encode_counters
from tests.support.isolation import Resources
from tests.support.truth import read_questions
from tests.vote_worker.factories import (
    aggregate,
    answer,
    create_run,
    set_question,
    single,
    stored_answers,
    tally,
    vote,
)
from vote_worker.record import record_votes, sync_tallies

RUN: list[dict[str, Any]] = [
    single(3),
    {"kind": "multiple", "prompt": "Which?", "options": ["a", "b", "c", "d"], "max_choices": 2},
    {"kind": "rating", "prompt": "How good?", "min": 1, "max": 5},
    {"kind": "ranking", "prompt": "Order", "options": ["a", "b", "c", "d"], "rank_count": 3},
    {"kind": "wordcloud", "prompt": "One word?", "max_entries": 2},
    {"kind": "quiz", "prompt": "2 + 2?", "options": ["3", "4"], "correct": [1], "time_limit_s": 30},
]
SINGLE, MULTIPLE, RATING, RANKING, WORDCLOUD, QUIZ = range(len(RUN))


def single_(option: int) -> dict[str, Any]:
    return {"kind": "single", "option": option}


def multiple(*options: int) -> dict[str, Any]:
    return {"kind": "multiple", "options": list(options)}


def rating(value: int) -> dict[str, Any]:
    return {"kind": "rating", "value": value}


def ranking(*order: int) -> dict[str, Any]:
    return {"kind": "ranking", "ranking": list(order)}


async def assert_exact(resources: Resources, poll: UUID) -> dict[int, Any]:
    """Every question's stored aggregate equals the recomputation from its stored answers."""
    questions = await read_questions(resources.database_url, str(poll))
    for qid, question in questions.items():
        if question.tally is not None:
            assert question.tally == question.recomputed(), qid
    return questions


async def test_each_kind_is_recorded_and_aggregated(
    db: asyncpg.Connection, resources: Resources
) -> None:
    poll = await create_run(db, RUN)
    ann, bob, cy = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    result = await record_votes(
        db,
        [
            answer(poll, ann, MULTIPLE, multiple(3, 0), seq=1),
            answer(poll, bob, MULTIPLE, multiple(0), seq=1),
            answer(poll, ann, RATING, rating(5), seq=2),
            answer(poll, bob, RATING, rating(4), seq=2),
            answer(poll, cy, RATING, rating(4), seq=1),
            answer(poll, ann, RANKING, ranking(2, 0, 1), seq=3),
            answer(poll, bob, RANKING, ranking(2, 3, 0), seq=3),
            answer(poll, ann, WORDCLOUD, {"kind": "wordcloud", "words": ["Tea", "tea "]}, seq=4),
            answer(poll, bob, WORDCLOUD, {"kind": "wordcloud", "words": ["tea", "cake"]}, seq=4),
            answer(poll, ann, QUIZ, {"kind": "quiz", "options": [1]}, seq=5),
            answer(poll, ann, SINGLE, single_(2), seq=6),
        ],
    )
    assert result.rejected == []
    assert {(t.qid, t.kind, t.version) for t in result.changed} == {
        (qid, spec["kind"], 1) for qid, spec in enumerate(RUN)
    }
    assert await aggregate(db, poll, MULTIPLE) == {
        "kind": "multiple",
        "counts": [2, 0, 0, 1],
        "total": 2,  # respondents: the base of each option's percentage
    }
    # Exact mean: 13 / 3, rounded half up, as a decimal string.
    assert await aggregate(db, poll, RATING) == {
        "kind": "rating",
        "counts": [0, 0, 0, 2, 1],
        "total": 3,
        "sum": 13,
        "mean": "4.33",
    }
    # Borda: k - position with k = 3.
    assert await aggregate(db, poll, RANKING) == {
        "kind": "ranking",
        "points": [3, 1, 6, 2],
        "total": 2,
        "average": ["1.50", "0.50", "3.00", "1.00"],
    }
    words = await aggregate(db, poll, WORDCLOUD)
    assert words is not None
    # The label is the most used spelling; a tie goes to the first in code point order.
    assert words["words"] == [{"word": "Tea", "count": 2}, {"word": "cake", "count": 1}]
    assert (words["distinct"], words["total"]) == (2, 2)
    assert await aggregate(db, poll, QUIZ) == {"kind": "quiz", "counts": [0, 1], "total": 1}
    row = await tally(db, poll, RANKING)
    assert row is not None
    assert (row["kind"], list(row["counts"]), row["total"]) == ("ranking", [], 2)
    single_row = await tally(db, poll, SINGLE)
    assert single_row is not None and list(single_row["counts"]) == [0, 0, 1]
    # Stored normalised: the ballots and votes hold the answer with its kind, `option` for single.
    stored = await db.fetchrow(
        "SELECT answer::text AS answer, option FROM ballots WHERE poll_id = $1 AND qid = $2"
        " AND participant_id = $3",
        poll,
        MULTIPLE,
        ann,
    )
    assert (json.loads(stored["answer"]), stored["option"]) == (multiple(0, 3), None)
    wordcloud = await stored_answers(db, poll, WORDCLOUD)
    assert wordcloud[ann].model_dump() == {"kind": "wordcloud", "words": ["Tea"]}
    assert (await stored_answers(db, poll, SINGLE))[ann].model_dump() == single_(2)
    await assert_exact(resources, poll)


async def test_latest_wins_for_every_kind_and_a_quiz_keeps_its_first(
    db: asyncpg.Connection, resources: Resources
) -> None:
    poll = await create_run(db, RUN)
    ann = uuid.uuid4()
    await record_votes(
        db,
        [
            answer(poll, ann, MULTIPLE, multiple(0, 1), seq=10),
            answer(poll, ann, RATING, rating(1), seq=11),
            answer(poll, ann, RANKING, ranking(0, 1, 2), seq=12),
            answer(poll, ann, QUIZ, {"kind": "quiz", "options": [0]}, seq=13),
        ],
    )
    versions = {qid: (await tally(db, poll, qid))["version"] for qid in (1, 2, 3, 5)}
    # Inside one batch and across batches; an older seq arriving late changes nothing.
    await record_votes(
        db,
        [
            answer(poll, ann, MULTIPLE, multiple(2), seq=30),
            answer(poll, ann, MULTIPLE, multiple(3), seq=20),
            answer(poll, ann, RATING, rating(5), seq=31),
            answer(poll, ann, RANKING, ranking(3, 2, 1), seq=32),
            answer(poll, ann, QUIZ, {"kind": "quiz", "options": [1]}, seq=33),
        ],
    )
    late = await record_votes(
        db,
        [
            answer(poll, ann, RATING, rating(3), seq=5),
            answer(poll, ann, QUIZ, {"kind": "quiz", "options": [1]}, seq=6),
        ],
    )
    answers = {qid: (await stored_answers(db, poll, qid))[ann].model_dump() for qid in (1, 2, 3, 5)}
    assert answers == {
        MULTIPLE: multiple(2),
        RATING: rating(5),
        RANKING: ranking(3, 2, 1),
        QUIZ: {"kind": "quiz", "options": [1]},  # seq 6 is before 13: the first answer
    }
    assert [t.qid for t in late.changed] == [QUIZ]
    assert await aggregate(db, poll, RATING) == {
        "kind": "rating",
        "counts": [0, 0, 0, 0, 1],
        "total": 1,
        "sum": 5,
        "mean": "5.00",
    }
    assert (await aggregate(db, poll, RANKING))["points"] == [0, 1, 2, 3]
    assert (await tally(db, poll, MULTIPLE))["version"] == versions[MULTIPLE] + 1
    await assert_exact(resources, poll)


async def test_a_redelivered_batch_is_counted_once(db: asyncpg.Connection) -> None:
    poll = await create_run(db, RUN)
    ann, bob = uuid.uuid4(), uuid.uuid4()
    sent = [
        answer(poll, ann, MULTIPLE, multiple(0, 1), seq=1),
        answer(poll, bob, RANKING, ranking(1, 0, 3), seq=1),
        answer(poll, bob, RATING, rating(2), seq=2),
    ]
    first = await record_votes(db, sent)
    before = {t.qid: t for t in first.changed}
    again = await record_votes(db, list(reversed(sent)))
    assert again.new_vote_ids == set()
    assert again.duplicates == 3
    assert again.changed == []
    for qid, snapshot in before.items():
        row = await tally(db, poll, qid)
        assert (row["version"], row["total"]) == (snapshot.version, 1)
    assert await db.fetchval("SELECT count(*) FROM ballots WHERE poll_id = $1", poll) == 3


async def test_a_first_version_vote_is_a_single_answer_to_question_0(
    db: asyncpg.Connection,
) -> None:
    poll = await create_run(db, RUN)
    ann = uuid.uuid4()
    v1 = vote(poll, ann, 1, seq=1)
    assert (v1.qid, v1.answer.model_dump()) == (0, single_(1))
    result = await record_votes(db, [v1])
    assert result.rejected == []
    row = await db.fetchrow(
        "SELECT qid, option, answer::text AS answer FROM votes WHERE poll_id = $1", poll
    )
    assert (row["qid"], row["option"], json.loads(row["answer"])) == (0, 1, single_(1))
    assert list((await tally(db, poll, 0))["counts"]) == [0, 1, 0]


async def test_invalid_answers_and_unknown_questions_are_rejected_and_not_stored(
    db: asyncpg.Connection,
) -> None:
    poll = await create_run(db, RUN)
    who = uuid.uuid4()
    bad = {
        "too many choices": answer(poll, who, MULTIPLE, multiple(0, 1, 2), seq=1),
        "off the scale": answer(poll, who, RATING, rating(6), seq=2),
        "ranks two of three": answer(poll, who, RANKING, ranking(0, 1), seq=3),
        "ranks a missing option": answer(poll, who, RANKING, ranking(0, 1, 9), seq=4),
        "another kind": answer(poll, who, MULTIPLE, single_(1), seq=5),
        "no such option": answer(poll, who, SINGLE, single_(3), seq=6),
        "several for a one-answer quiz": answer(
            poll, who, QUIZ, {"kind": "quiz", "options": [0, 1]}, seq=7
        ),
        "unknown question": answer(poll, who, 17, single_(0), seq=8),
        "unknown poll": answer(uuid.uuid4(), who, 0, single_(0), seq=9),
    }
    good = answer(poll, who, RATING, rating(3), seq=10)
    result = await record_votes(db, [*bad.values(), good])
    reasons = {r.vote.vote_id: (r.reason, r.rule) for r in result.rejected}
    expected = {name: reasons[v.vote_id] for name, v in bad.items()}
    assert expected["too many choices"] == ("invalid_answer", "choose 1 to 2 options")
    assert expected["off the scale"] == ("invalid_answer", "value must be between 1 and 5")
    assert expected["ranks two of three"] == ("invalid_answer", "rank exactly 3 distinct options")
    assert expected["another kind"] == ("invalid_answer", "this is a multiple-choice question")
    assert expected["unknown question"] == ("unknown_question", None)
    assert expected["unknown poll"] == ("unknown_poll", None)
    assert all(reason == "invalid_answer" for reason, _ in list(expected.values())[:7])
    assert [v.vote_id for v in result.valid] == [good.vote_id]
    stored = await db.fetch("SELECT vote_id FROM ballots WHERE participant_id = $1", who)
    assert [r["vote_id"] for r in stored] == [good.vote_id]
    assert await db.fetchval("SELECT count(*) FROM votes WHERE participant_id = $1", who) == 1
    # No tally row for a question that does not exist; those of rejected answers are empty.
    assert await tally(db, poll, 17) is None
    assert (await aggregate(db, poll, MULTIPLE))["total"] == 0


async def test_a_reset_of_one_question_leaves_the_others(db: asyncpg.Connection) -> None:
    poll = await create_run(db, RUN)
    ann, bob = uuid.uuid4(), uuid.uuid4()
    await record_votes(
        db,
        [
            answer(poll, ann, MULTIPLE, multiple(1), seq=1),
            answer(poll, bob, MULTIPLE, multiple(2, 3), seq=1),
            answer(poll, ann, RATING, rating(2), seq=2),
        ],
    )
    rating_before = await tally(db, poll, RATING)
    multiple_version = (await tally(db, poll, MULTIPLE))["version"]
    await set_question(db, poll, MULTIPLE, epoch=1, status="draft")  # poll-api's reset

    tallies, changed = await sync_tallies(db, poll, MULTIPLE)
    assert [t.qid for t in changed] == [MULTIPLE]
    (reset,) = tallies
    assert (reset.epoch, reset.total, reset.version) == (1, 0, multiple_version + 1)
    assert reset.aggregate == {"kind": "multiple", "counts": [0, 0, 0, 0], "total": 0}
    assert await stored_answers(db, poll, MULTIPLE) == {}
    assert await tally(db, poll, RATING) == rating_before
    assert set(await stored_answers(db, poll, RATING)) == {ann}

    await set_question(db, poll, MULTIPLE, status="open")
    result = await record_votes(
        db,
        [
            answer(poll, ann, MULTIPLE, multiple(0), seq=3, epoch=0),  # before the reset
            answer(poll, bob, MULTIPLE, multiple(0), seq=3, epoch=1),
            answer(poll, ann, RATING, rating(4), seq=4, epoch=0),
        ],
    )
    assert [r.reason for r in result.rejected] == ["stale_epoch"]
    assert await aggregate(db, poll, MULTIPLE) == {
        "kind": "multiple",
        "counts": [1, 0, 0, 0],
        "total": 1,
    }
    assert (await aggregate(db, poll, RATING))["sum"] == 4


async def test_a_reset_noticed_by_a_batch_empties_the_question_first(
    db: asyncpg.Connection,
) -> None:
    """No reset event yet: the batch reads the question's new epoch and compares."""
    poll = await create_run(db, RUN)
    ann, bob = uuid.uuid4(), uuid.uuid4()
    await record_votes(db, [answer(poll, ann, RATING, rating(5), seq=1)])
    await set_question(db, poll, RATING, epoch=1)
    await record_votes(db, [answer(poll, bob, RATING, rating(1), seq=1, epoch=1)])
    assert set(await stored_answers(db, poll, RATING)) == {bob}
    assert (await aggregate(db, poll, RATING))["sum"] == 1
    assert (await tally(db, poll, RATING))["epoch"] == 1


async def test_drifted_or_unreadable_counters_are_recounted(
    db: asyncpg.Connection, resources: Resources
) -> None:
    poll = await create_run(db, RUN)
    ann, bob = uuid.uuid4(), uuid.uuid4()
    await record_votes(
        db,
        [
            answer(poll, ann, RANKING, ranking(0, 1, 2), seq=1),
            answer(poll, bob, RANKING, ranking(1, 0, 2), seq=1),
            answer(poll, ann, RATING, rating(3), seq=2),
        ],
    )
    right = await aggregate(db, poll, RANKING)
    version = (await tally(db, poll, RANKING))["version"]
    # Counters that fit the question but are wrong: only a recount from the answers sees it.
    drift = encode_counters({("points", 0): 99, ("total",): 7})
    await db.execute(
        "UPDATE tallies SET counters = $3::jsonb WHERE poll_id = $1 AND qid = $2",
        poll,
        RANKING,
        json.dumps(drift),
    )
    _, changed = await sync_tallies(db, poll, RANKING, recount=True)
    assert [(t.qid, t.version, t.aggregate) for t in changed] == [(RANKING, version + 1, right)]
    _, again = await sync_tallies(db, poll, RANKING, recount=True)
    assert again == []

    # Counters that are not counters of this kind at all: the next batch recounts first.
    await db.execute(
        "UPDATE tallies SET counters = '{\"not a key\": -1}'::jsonb"
        " WHERE poll_id = $1 AND qid = $2",
        poll,
        RATING,
    )
    await record_votes(db, [answer(poll, bob, RATING, rating(5), seq=3)])
    assert (await aggregate(db, poll, RATING))["sum"] == 8
    await db.execute(
        "UPDATE tallies SET counters = '[1, 2]'::jsonb WHERE poll_id = $1 AND qid = $2",
        poll,
        RATING,
    )
    await record_votes(db, [answer(poll, bob, RATING, rating(1), seq=4)])
    assert (await aggregate(db, poll, RATING))["sum"] == 4
    await assert_exact(resources, poll)


def _random_fields(qid: int, rng: random.Random) -> dict[str, Any]:
    if qid == SINGLE:
        return single_(rng.randrange(3))
    if qid == MULTIPLE:
        return multiple(*rng.sample(range(4), rng.randint(1, 2)))
    if qid == RATING:
        return rating(rng.randint(1, 5))
    if qid == RANKING:
        return ranking(*rng.sample(range(4), 3))
    if qid == WORDCLOUD:
        return {"kind": "wordcloud", "words": rng.sample(["tea", "Tea", "cake", "jam", "🍰"], 2)}
    return {"kind": "quiz", "options": [rng.randrange(2)]}


async def test_random_batches_of_mixed_kinds_equal_a_recomputation(
    db: asyncpg.Connection, resources: Resources
) -> None:
    """Re-answers, out-of-order seqs and redeliveries over every kind: each stored aggregate is
    what tests/support/truth.py recomputes from the stored answers."""
    rng = random.Random(12)
    poll = await create_run(db, RUN)
    people = [uuid.uuid4() for _ in range(25)]
    cast: list = []
    for _ in range(40):
        sent = []
        for _ in range(rng.randint(1, 25)):
            if cast and rng.random() < 0.2:
                sent.append(rng.choice(cast))
                continue
            qid = rng.randrange(len(RUN))
            v = answer(
                poll, rng.choice(people), qid, _random_fields(qid, rng), rng.randint(1, 9999)
            )
            cast.append(v)
            sent.append(v)
        await record_votes(db, sent)
    questions = await assert_exact(resources, poll)
    assert all(q.tally is not None and q.tally["total"] > 0 for q in questions.values())


async def test_concurrent_writers_of_mixed_kinds_keep_every_aggregate_exact(
    db: asyncpg.Connection, resources: Resources
) -> None:
    """Two connections record overlapping batches (redeliveries included) of one run."""
    rng = random.Random(99)
    poll = await create_run(db, RUN)
    people = [uuid.uuid4() for _ in range(20)]

    def random_batch() -> list:
        picks = [rng.randrange(len(RUN)) for _ in range(20)]
        return [
            answer(poll, rng.choice(people), q, _random_fields(q, rng), s)
            for q, s in zip(picks, rng.sample(range(1, 1_000_000), len(picks)), strict=True)
        ]

    batches = [random_batch() for _ in range(30)]
    batches += [batches[i] for i in range(0, 30, 3)]
    rng.shuffle(batches)

    async def writer(share: list) -> None:
        conn = await asyncpg.connect(resources.database_url)
        try:
            for sent in share:
                await record_votes(conn, sent)
        finally:
            await conn.close()

    await asyncio.gather(writer(batches[0::2]), writer(batches[1::2]))
    questions = await assert_exact(resources, poll)
    for qid, question in questions.items():
        respondents = await db.fetchval(
            "SELECT count(DISTINCT participant_id) FROM ballots WHERE poll_id = $1 AND qid = $2",
            poll,
            qid,
        )
        assert question.tally is not None and question.tally["total"] == respondents


async def test_an_edited_draft_changes_its_tally_and_a_deleted_one_loses_it(
    db: asyncpg.Connection,
) -> None:
    poll = await create_run(db, [single(2), single(2)], status="draft")
    (zeros,), _ = await sync_tallies(db, poll, 1)
    assert zeros.aggregate == {"kind": "single", "counts": [0, 0], "total": 0}
    edited = {"kind": "rating", "prompt": "Now a rating", "min": 0, "max": 3}
    await db.execute(
        "UPDATE questions SET kind = 'rating', spec = $3::jsonb WHERE poll_id = $1 AND qid = $2",
        poll,
        1,
        json.dumps(edited),
    )
    (rating_,), changed = await sync_tallies(db, poll, 1)
    assert changed == [rating_]
    assert (rating_.kind, rating_.version) == ("rating", zeros.version + 1)
    assert rating_.aggregate["counts"] == [0, 0, 0, 0]

    await db.execute("DELETE FROM questions WHERE poll_id = $1 AND qid = $2", poll, 1)
    assert await sync_tallies(db, poll, 1) == ([], [])
    assert await tally(db, poll, 1) is None
    assert await tally(db, poll, 0) is None  # never asked for: never created
