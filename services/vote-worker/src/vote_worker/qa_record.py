"""Recording Q&A actions in one transaction: asks, upvotes, moderation, scores, board versions.

Idempotent by construction, so a redelivered or duplicated message changes nothing:
- an ask inserts its item `ON CONFLICT (item_id) DO NOTHING` (the gateway made the id);
- an upvote upserts `qa_votes` per (item, participant) only `WHERE excluded.seq > seq`;
- a moderation sets the status (or the pin) only when its seq is newer than the last applied.
The items an upvote touches are locked first, in id order (replicas never deadlock), and their
`score` is then recounted from `qa_votes`: a score always equals a recomputation from what is
stored, whatever order batches commit in.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg

from contracts.qa import (
    STATUS_OF,
    QaAsk,
    QaBoardItem,
    QaBoardUpdated,
    QaModerate,
    QaUpvote,
    board_order,
)

Action = QaAsk | QaUpvote | QaModerate

_POLL_SETTINGS = "SELECT id, settings FROM polls WHERE id = ANY($1::uuid[])"
_INSERT_ITEMS = """
INSERT INTO qa_items (item_id, poll_id, participant_id, text, status, seq, asked_at)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::bigint[],
                     $7::timestamptz[])
ON CONFLICT (item_id) DO NOTHING
RETURNING item_id
"""
_LOCK_ITEMS = """
SELECT item_id, poll_id, participant_id FROM qa_items WHERE item_id = ANY($1::uuid[])
ORDER BY item_id FOR UPDATE
"""
_UPSERT_VOTES = """
INSERT INTO qa_votes (item_id, participant_id, poll_id, up, seq, action_id, cast_at)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::boolean[], $5::bigint[],
                     $6::uuid[], $7::timestamptz[])
ON CONFLICT (item_id, participant_id) DO UPDATE
SET up = excluded.up, seq = excluded.seq, action_id = excluded.action_id,
    cast_at = excluded.cast_at
WHERE excluded.seq > qa_votes.seq
RETURNING action_id
"""
_RECOUNT = """
UPDATE qa_items i SET score = c.n, updated_at = now()
FROM (SELECT item_id, count(*) FILTER (WHERE up)::int AS n FROM qa_votes
      WHERE item_id = ANY($1::uuid[]) GROUP BY item_id) AS c
WHERE i.item_id = c.item_id AND i.score <> c.n
RETURNING i.poll_id
"""
_SET_STATUS = """
UPDATE qa_items i SET status = m.status, status_seq = m.seq, updated_at = now()
FROM unnest($1::uuid[], $2::text[], $3::bigint[]) AS m(item_id, status, seq)
WHERE i.item_id = m.item_id AND i.poll_id = ANY($4::uuid[]) AND i.status_seq < m.seq
RETURNING i.poll_id
"""
_SET_PIN = """
UPDATE qa_items i SET pinned = m.pinned, pin_seq = m.seq, updated_at = now()
FROM unnest($1::uuid[], $2::boolean[], $3::bigint[]) AS m(item_id, pinned, seq)
WHERE i.item_id = m.item_id AND i.poll_id = ANY($4::uuid[]) AND i.pin_seq < m.seq
RETURNING i.poll_id
"""
_BUMP_BOARDS = """
INSERT INTO qa_boards (poll_id, version) SELECT unnest($1::uuid[]), 1
ON CONFLICT (poll_id) DO UPDATE SET version = qa_boards.version + 1, updated_at = now()
RETURNING poll_id, version
"""
_VISIBLE = """
SELECT item_id, poll_id, participant_id, text, score, status, pinned, asked_at FROM qa_items
WHERE poll_id = ANY($1::uuid[]) AND status IN ('approved', 'answered')
"""


@dataclass(frozen=True)
class Rejected:
    action: Action
    reason: str  # unknown_poll, qa_disabled, unknown_item, own_item


@dataclass
class QaResult:
    new_items: set[UUID] = field(default_factory=set)  # asks stored by this batch
    asked: list[tuple[QaAsk, str]] = field(default_factory=list)  # every valid ask, its status
    counted: set[UUID] = field(default_factory=set)  # upvote action ids that changed a vote
    upvotes: list[QaUpvote] = field(default_factory=list)  # every valid upvote
    rejected: list[Rejected] = field(default_factory=list)
    boards: list[QaBoardUpdated] = field(default_factory=list)  # of each changed poll


def _settings(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        raw = json.loads(raw)
    return raw if isinstance(raw, dict) else {}


def _latest(actions: Sequence[Action], key: Any) -> list[Any]:
    """Per key, the action with the highest seq (one row per key in an upsert)."""
    best: dict[Any, Any] = {}
    for action in actions:
        k = key(action)
        if k not in best or action.seq > best[k].seq:
            best[k] = action
    return list(best.values())


async def _insert_asks(
    conn: asyncpg.Connection, asks: list[tuple[QaAsk, str]], result: QaResult
) -> set[UUID]:
    # Sorted by id: two replicas inserting the same redelivered asks take the index locks in
    # one order and never deadlock.
    rows = sorted(_latest([a for a, _ in asks], lambda a: a.item_id), key=lambda a: a.item_id)
    status = {a.item_id: s for a, s in asks}
    inserted = await conn.fetch(
        _INSERT_ITEMS,
        [a.item_id for a in rows],
        [a.poll_id for a in rows],
        [a.participant_id for a in rows],
        [a.text for a in rows],
        [status[a.item_id] for a in rows],
        [a.seq for a in rows],
        [a.occurred_at for a in rows],
    )
    result.new_items = {r["item_id"] for r in inserted}
    return {a.poll_id for a in rows if a.item_id in result.new_items}


async def _upsert_upvotes(
    conn: asyncpg.Connection,
    upvotes: list[QaUpvote],
    locked: dict[UUID, asyncpg.Record],
    result: QaResult,
) -> set[UUID]:
    valid: list[QaUpvote] = []
    for upvote in upvotes:
        row = locked.get(upvote.item_id)
        if row is None or row["poll_id"] != upvote.poll_id:
            result.rejected.append(Rejected(upvote, "unknown_item"))
        elif row["participant_id"] == upvote.participant_id:
            result.rejected.append(Rejected(upvote, "own_item"))
        else:
            valid.append(upvote)
    result.upvotes = valid
    rows = _latest(valid, lambda u: (u.item_id, u.participant_id))
    if not rows:
        return set()
    changed = await conn.fetch(
        _UPSERT_VOTES,
        [u.item_id for u in rows],
        [u.participant_id for u in rows],
        [u.poll_id for u in rows],
        [u.up for u in rows],
        [u.seq for u in rows],
        [u.action_id for u in rows],
        [u.occurred_at for u in rows],
    )
    result.counted = {r["action_id"] for r in changed}
    recounted = await conn.fetch(_RECOUNT, sorted({u.item_id for u in rows}))
    return {r["poll_id"] for r in recounted}


async def _moderate(conn: asyncpg.Connection, moderations: list[QaModerate]) -> set[UUID]:
    polls = sorted({m.poll_id for m in moderations})
    statuses = _latest([m for m in moderations if m.moderation in STATUS_OF], lambda m: m.item_id)
    pinning = [m for m in moderations if m.moderation in {"pin", "unpin"}]
    pins = _latest(pinning, lambda m: m.item_id)
    changed: set[UUID] = set()
    if statuses:
        rows = await conn.fetch(
            _SET_STATUS,
            [m.item_id for m in statuses],
            [STATUS_OF[m.moderation] for m in statuses],
            [m.seq for m in statuses],
            polls,
        )
        changed |= {r["poll_id"] for r in rows}
    if pins:
        rows = await conn.fetch(
            _SET_PIN,
            [m.item_id for m in pins],
            [m.moderation == "pin" for m in pins],
            [m.seq for m in pins],
            polls,
        )
        changed |= {r["poll_id"] for r in rows}
    return changed


async def read_boards(conn: asyncpg.Connection, versions: dict[UUID, int]) -> list[QaBoardUpdated]:
    """The visible board of each poll at its version, in board order."""
    if not versions:
        return []
    rows = await conn.fetch(_VISIBLE, list(versions))
    items: dict[UUID, list[QaBoardItem]] = {poll_id: [] for poll_id in versions}
    for r in rows:
        items[r["poll_id"]].append(
            QaBoardItem(
                id=r["item_id"],
                text=r["text"],
                score=r["score"],
                status=r["status"],
                pinned=r["pinned"],
                asked_at=r["asked_at"],
                author=r["participant_id"],
            )
        )
    return [
        QaBoardUpdated(poll_id=poll_id, version=version, items=board_order(items[poll_id]))
        for poll_id, version in versions.items()
    ]


async def record_qa(conn: asyncpg.Connection, actions: Sequence[Action]) -> QaResult:
    """Store a batch of actions; returns what happened and the boards of the polls it changed."""
    result = QaResult()
    async with conn.transaction():
        polls = {
            r["id"]: _settings(r["settings"])
            for r in await conn.fetch(_POLL_SETTINGS, list({a.poll_id for a in actions}))
        }
        asks: list[tuple[QaAsk, str]] = []
        upvotes: list[QaUpvote] = []
        moderations: list[QaModerate] = []
        for action in actions:
            settings = polls.get(action.poll_id)
            if settings is None:
                result.rejected.append(Rejected(action, "unknown_poll"))
            elif not settings.get("qa_enabled"):
                result.rejected.append(Rejected(action, "qa_disabled"))
            elif isinstance(action, QaAsk):
                asks.append((action, "pending" if settings.get("qa_moderated") else "approved"))
            elif isinstance(action, QaUpvote):
                upvotes.append(action)
            else:
                moderations.append(action)
        result.asked = asks
        changed: set[UUID] = set()
        if asks:
            changed |= await _insert_asks(conn, asks, result)
        # Every item an upvote or a moderation touches, locked in id order at once: replicas
        # serialise per item and never deadlock; the recount then sees every committed vote.
        touched = sorted({a.item_id for a in [*upvotes, *moderations]})
        rows = await conn.fetch(_LOCK_ITEMS, touched) if touched else []
        locked = {r["item_id"]: r for r in rows}
        if upvotes:
            changed |= await _upsert_upvotes(conn, upvotes, locked, result)
        if moderations:
            changed |= await _moderate(conn, moderations)
        if changed:
            bumped = await conn.fetch(_BUMP_BOARDS, sorted(changed))
            result.boards = await read_boards(conn, {r["poll_id"]: r["version"] for r in bumped})
    return result
