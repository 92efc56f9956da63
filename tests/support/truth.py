"""What is really stored: votes, tallies and audit events, read straight from PostgreSQL/Redis."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg
import redis.asyncio as aioredis


@dataclass
class Truth:
    """Question 0's votes and tally (a first-version poll's only question), every ballot."""

    votes: dict[str, dict[str, Any]]  # participant id -> {option, vote_id, seq}
    group_by: list[int]  # counts per option from GROUP BY over votes
    tally: dict[str, Any] | None  # the tallies row
    ballots: set[str]  # every recorded vote id


async def read_truth(database_url: str, poll_id: str, options: int) -> Truth:
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        rows = await conn.fetch(
            "SELECT participant_id, option, vote_id, seq FROM votes WHERE poll_id = $1 AND qid = 0",
            UUID(poll_id),
        )
        grouped = await conn.fetch(
            "SELECT option, count(*) AS n FROM votes WHERE poll_id = $1 AND qid = 0"
            " GROUP BY option",
            UUID(poll_id),
        )
        tally = await conn.fetchrow(
            "SELECT counts, total, version, epoch FROM tallies WHERE poll_id = $1 AND qid = 0",
            UUID(poll_id),
        )
        ballots = await conn.fetch("SELECT vote_id FROM ballots WHERE poll_id = $1", UUID(poll_id))
    finally:
        await conn.close()
    counts = [0] * options
    for row in grouped:
        counts[row["option"]] = row["n"]
    return Truth(
        votes={
            str(r["participant_id"]): {
                "option": r["option"],
                "vote_id": str(r["vote_id"]),
                "seq": r["seq"],
            }
            for r in rows
        },
        group_by=counts,
        tally=dict(tally) if tally else None,
        ballots={str(r["vote_id"]) for r in ballots},
    )


async def redis_tally(redis_url: str, key: str) -> dict[str, Any] | None:
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        data = await client.hgetall(key)
    finally:
        await client.aclose()
    if not data:
        return None
    return {
        "counts": json.loads(data["counts"]),
        "total": int(data["total"]),
        "version": int(data["version"]),
    }


async def audit_kinds(database_url: str, poll_id: str) -> dict[str, int]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT kind, count(*) AS n FROM audit_log WHERE poll_id = $1 GROUP BY kind",
            UUID(poll_id),
        )
    finally:
        await conn.close()
    return {r["kind"]: r["n"] for r in rows}


async def audited_vote_ids(database_url: str, poll_id: str) -> set[str]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT data->>'vote_id' AS vote_id FROM audit_log "
            "WHERE poll_id = $1 AND kind = 'vote.recorded'",
            UUID(poll_id),
        )
    finally:
        await conn.close()
    return {r["vote_id"] for r in rows}


@dataclass
class QuestionTruth:
    """One question as stored: its spec, the counted answers, and the worker's aggregate."""

    qid: int
    spec: Any  # contracts.questions.Question
    status: str
    epoch: int
    answers: dict[str, Any]  # participant id -> contracts.answers answer model
    tally: dict[str, Any] | None  # tallies.aggregate (the tally dict), None without a row
    version: int
    word_moderation: dict[str, str] = field(default_factory=dict)  # the host's hide/show
    withheld: list[dict[str, Any]] = field(default_factory=list)  # tallies.withheld

    def recomputed(self) -> dict[str, Any]:
        """The aggregate recomputed from the stored answers (invariant 3); a word cloud's
        without the words its moderation withholds (contracts.moderation)."""
        from contracts.aggregates import recompute
        from vote_worker.words import moderation_of, public_tally

        aggregate = recompute(self.spec, self.answers.values())
        return public_tally(aggregate, moderation_of(self.spec, self.word_moderation))

    def recomputed_withheld(self) -> list[dict[str, Any]]:
        """The host's list of withheld words, recomputed from the stored answers."""
        from contracts.aggregates import recompute
        from vote_worker.words import moderation_of, withheld_words

        aggregate = recompute(self.spec, self.answers.values())
        return [
            dict(w)
            for w in withheld_words(aggregate, moderation_of(self.spec, self.word_moderation))
        ]


async def read_questions(database_url: str, poll_id: str) -> dict[int, QuestionTruth]:
    """Every question of a poll with its stored answers of the current epoch, by qid."""
    from contracts.answers import ANSWER_ADAPTER
    from contracts.questions import parse_question

    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        questions = await conn.fetch(
            "SELECT qid, spec, status, epoch, word_moderation FROM questions WHERE poll_id = $1",
            UUID(poll_id),
        )
        votes = await conn.fetch(
            "SELECT qid, participant_id, answer, epoch FROM votes WHERE poll_id = $1",
            UUID(poll_id),
        )
        tallies = await conn.fetch(
            "SELECT qid, epoch, aggregate, version, withheld FROM tallies WHERE poll_id = $1",
            UUID(poll_id),
        )
    finally:
        await conn.close()
    found: dict[int, QuestionTruth] = {}
    for q in questions:
        found[q["qid"]] = QuestionTruth(
            qid=q["qid"],
            spec=parse_question(json.loads(q["spec"])),
            status=q["status"],
            epoch=q["epoch"],
            answers={},
            tally=None,
            version=0,
            word_moderation=json.loads(q["word_moderation"]),
        )
    for v in votes:
        question = found[v["qid"]]
        if v["epoch"] == question.epoch:
            answer = ANSWER_ADAPTER.validate_python(json.loads(v["answer"]))
            question.answers[str(v["participant_id"])] = answer
    for t in tallies:
        question = found[t["qid"]]
        if t["epoch"] == question.epoch:
            question.tally = json.loads(t["aggregate"])
            question.version = t["version"]
            question.withheld = json.loads(t["withheld"])
    return found
