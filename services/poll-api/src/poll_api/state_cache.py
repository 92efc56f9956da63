"""The poll state in Redis, which the gateway's accept script reads: newer state_version wins."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

from contracts.polls import PollView
from zephyr_runtime.keys import RedisKeys
from zephyr_runtime.redis_scripts import RedisScript, run_pipelined

# KEYS[1] state hash, KEYS[2] room key.
# ARGV: state_version, poll id, then the hash's field/value pairs (docs/questions.md).
# The room mapping never changes, so it is always (re)written; the state only when newer, and
# then whole (a deleted question's fields go with it).
WRITE_STATE = RedisScript(
    """
redis.call('SET', KEYS[2], ARGV[2])
local current = redis.call('HGET', KEYS[1], 'state_version')
if current and tonumber(current) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'state_version', ARGV[1], unpack(ARGV, 3))
return 1
"""
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def closes_us(closes_at: datetime | None) -> int:
    """`closes_at` in whole microseconds since the Unix epoch (exact), 0 for no timer."""
    if closes_at is None:
        return 0
    return (closes_at - _EPOCH) // timedelta(microseconds=1)


def state_fields(view: PollView) -> list[str]:
    """The hash's fields besides `state_version`, as a flat field/value list."""
    current = view.current_question
    fields = [
        "view",
        view.model_dump_json(),
        "current",
        str(current.qid if current is not None else 0),
        "status",
        view.status.value,
        "epoch",
        str(view.epoch),
        "revealed",
        "1" if view.revealed else "0",
    ]
    for question in view.questions:
        q = f"q{question.qid}:"
        fields += [
            q + "status",
            question.status.value,
            q + "epoch",
            str(question.epoch),
            q + "closes_us",
            str(closes_us(question.closes_at)),
        ]
    return fields


class PollStateCache:
    """Writes `room:<code>` and `poll:<id>:state`; reads participant counts."""

    def __init__(self, client: aioredis.Redis, keys: RedisKeys) -> None:
        self._client = client
        self._keys = keys

    def _args(self, view: PollView, state_version: int) -> tuple[list[str], list[str]]:
        keys = [self._keys.poll_state(view.id), self._keys.room(view.room_code)]
        args = [str(state_version), str(view.id), *state_fields(view)]
        return keys, args

    async def write(self, view: PollView, state_version: int) -> bool:
        """Write the state unless Redis already holds this or a newer version; True if written."""
        keys, args = self._args(view, state_version)
        return bool(await WRITE_STATE.run(self._client, keys, args))

    async def write_many(self, states: Sequence[tuple[PollView, int]]) -> None:
        """The same conditional write for many polls in one round trip."""
        calls = [(WRITE_STATE, *self._args(view, version)) for view, version in states]
        await run_pipelined(self._client, calls)

    async def write_and_count(self, view: PollView, state_version: int) -> int:
        """Read-through refresh plus the participant count, in one round trip."""
        keys, args = self._args(view, state_version)
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.evalsha(WRITE_STATE.sha, len(keys), *keys, *args)
            pipe.hlen(self._keys.nicknames(view.id))
            written, count = await pipe.execute(raise_on_error=False)
        if isinstance(written, NoScriptError):  # Redis lost its scripts: load it, write again
            await WRITE_STATE.run(self._client, keys, args)
        elif isinstance(written, Exception):
            raise written
        if isinstance(count, Exception):
            raise count
        return int(count)

    async def cached_versions(self, poll_ids: Sequence[UUID]) -> list[int | None]:
        """The state_version Redis holds for each poll (None when the state key is missing)."""
        async with self._client.pipeline(transaction=False) as pipe:
            for poll_id in poll_ids:
                pipe.hget(self._keys.poll_state(poll_id), "state_version")
            raw = await pipe.execute()
        return [None if value is None else int(value) for value in raw]
