"""The worker's word-cloud moderation on the real Postgres: profane and banned words and the
host's hidden ones are left out of the stored tally (never out of the counters), the host's
list is stored beside it, and a change of the moderation is applied by a recount at a new
version, exactly."""

from __future__ import annotations

import json
import uuid

import asyncpg

from tests.vote_worker.factories import aggregate, answer, create_run, tally
from vote_worker.record import record_votes, sync_tallies
from vote_worker.words import profane

CLOUD = {"kind": "wordcloud", "prompt": "One word?", "banned_words": ["boring"]}


def words(*entries: str) -> dict[str, object]:
    return {"kind": "wordcloud", "words": list(entries)}


async def test_withheld_words_leave_the_tally_and_come_back_exactly(
    db: asyncpg.Connection,
) -> None:
    poll = await create_run(db, [CLOUD])
    people = [uuid.uuid4() for _ in range(4)]
    await record_votes(
        db,
        [
            answer(poll, people[0], 0, words("Python", "Boring"), seq=1),
            answer(poll, people[1], 0, words("python!", "shit"), seq=1),
            answer(poll, people[2], 0, words("Rust"), seq=1),
            answer(poll, people[3], 0, words("PYTHON", "rust"), seq=1),
        ],
    )
    shown = await aggregate(db, poll)
    assert shown == {
        "kind": "wordcloud",
        "words": [{"word": "PYTHON", "count": 3}, {"word": "Rust", "count": 2}],
        "distinct": 2,
        "total": 4,
    }
    row = await db.fetchrow(
        "SELECT withheld::text, counters::text FROM tallies WHERE poll_id = $1", poll
    )
    assert json.loads(row["withheld"]) == [
        {"word": "Boring", "key": "boring", "count": 1, "reason": "banned"},
        {"word": "shit", "key": "shit", "count": 1, "reason": "profanity"},
    ]
    counters = json.loads(row["counters"])
    assert counters['["word","shit"]'] == 1  # stored, counted, withheld

    # The host hides a word (poll-api writes the column); the recount drops it at a new version.
    version = (await tally(db, poll))["version"]
    await db.execute(
        'UPDATE questions SET word_moderation = \'{"python": "hidden"}\' WHERE poll_id = $1',
        poll,
    )
    _, changed = await sync_tallies(db, poll, 0)
    assert [t.version for t in changed] == [version + 1]
    assert await aggregate(db, poll) == {
        "kind": "wordcloud",
        "words": [{"word": "Rust", "count": 2}],
        "distinct": 1,
        "total": 4,
    }
    # A new answer while it is hidden changes the counters, never what screens get of it.
    await record_votes(db, [answer(poll, people[2], 0, words("Python"), seq=2)])
    assert (await aggregate(db, poll))["words"] == [{"word": "rust", "count": 1}]

    # Shown again (and the profane word shown over the filter): exact counts.
    await db.execute(
        'UPDATE questions SET word_moderation = \'{"python": "shown", "shit": "shown"}\''
        " WHERE poll_id = $1",
        poll,
    )
    await sync_tallies(db, poll, 0)
    assert (await aggregate(db, poll))["words"] == [
        {"word": "Python", "count": 4},  # now the most frequent spelling
        {"word": "rust", "count": 1},
        {"word": "shit", "count": 1},
    ]
    # Nothing changed since: a recount writes nothing.
    _, again = await sync_tallies(db, poll, 0, recount=True)
    assert again == []


async def test_the_filter_can_be_turned_off_per_question(db: asyncpg.Connection) -> None:
    assert profane("shit") and profane("sh1t") and not profane("scunthorpe")
    poll = await create_run(db, [{**CLOUD, "profanity_filter": False}])
    await record_votes(db, [answer(poll, uuid.uuid4(), 0, words("shit"), seq=1)])
    assert (await aggregate(db, poll))["words"] == [{"word": "shit", "count": 1}]
