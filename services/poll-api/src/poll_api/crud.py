"""Reading and writing `polls` (and reading the worker's `tallies`)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, Integer, column, table
from sqlalchemy.dialects.postgresql import ARRAY, UUID, insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import polls
from contracts.polls import ROOM_CODE_ALPHABET, ROOM_CODE_LENGTH, PollStatus
from poll_api.errors import PollNotFound
from poll_api.models import Poll, PollCreate

MAX_ROOM_CODE_ATTEMPTS = 20

# vote-worker owns `tallies`; poll-api only reads these columns of it.
tallies = table(
    "tallies",
    column("poll_id", UUID(as_uuid=True)),
    column("epoch", Integer),
    column("counts", ARRAY(BigInteger)),
    column("total", BigInteger),
    column("version", BigInteger),
)


def new_room_code() -> str:
    """A random room code from `secrets` (codes are public; a collision is retried)."""
    return "".join(secrets.choice(ROOM_CODE_ALPHABET) for _ in range(ROOM_CODE_LENGTH))


def normalize_room_code(raw: str) -> str:
    """Room codes are matched case-insensitively; anything not shaped like one is unknown."""
    code = polls.normalize_room_code(raw)
    if code is None:
        raise PollNotFound(raw)
    return code


async def insert_poll(
    session: AsyncSession,
    data: PollCreate,
    *,
    host_token_hash: str,
    expires_in_days: int,
    now: datetime,
) -> Poll:
    """Insert a draft poll under a fresh random room code, retrying on a code collision."""
    poll_id = uuid.uuid4()
    for _ in range(MAX_ROOM_CODE_ATTEMPTS):
        poll = Poll(
            id=poll_id,
            room_code=new_room_code(),
            question=data.question,
            options=list(data.options),
            kind=data.kind,
            status=PollStatus.DRAFT.value,
            revealed=False,
            epoch=0,
            state_version=1,
            host_token_hash=host_token_hash,
            settings=data.settings.model_dump(),
            created_at=now,
            updated_at=now,
            expires_at=now + timedelta(days=expires_in_days),
        )
        values = {name: getattr(poll, name) for name in Poll.model_fields}
        inserted = await session.exec(
            insert(Poll)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["room_code"])
            .returning(col(Poll.id))
        )
        if inserted.first() is not None:
            return poll
    raise RuntimeError(f"no free room code after {MAX_ROOM_CODE_ATTEMPTS} attempts")


async def get_poll(session: AsyncSession, room_code: str, *, for_update: bool = False) -> Poll:
    query = select(Poll).where(col(Poll.room_code) == room_code)
    if for_update:
        query = query.with_for_update()
    poll = (await session.exec(query)).first()
    if poll is None:
        raise PollNotFound(room_code)
    return poll


@dataclass(frozen=True)
class TallyRow:
    epoch: int
    counts: list[int]
    total: int
    version: int


async def read_tally(session: AsyncSession, poll_id: uuid.UUID) -> TallyRow | None:
    """The vote-worker's tally of a poll (absent until the first vote is recorded)."""
    t = tallies.c
    row = (
        await session.exec(
            select(t.epoch, t.counts, t.total, t.version).where(t.poll_id == poll_id)
        )
    ).first()
    if row is None:
        return None
    epoch, counts, total, version = row
    return TallyRow(
        epoch=int(epoch), counts=[int(c) for c in counts], total=int(total), version=int(version)
    )
