"""The poll state in Redis, which the gateway's accept script reads: newer state_version wins."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import redis.asyncio as aioredis

from contracts.polls import PollView
from zephyr_runtime.keys import RedisKeys

# KEYS[1] state hash, KEYS[2] room key.
# ARGV: state_version, status, epoch, revealed ("1"/"0"), view JSON, poll id.
# The room mapping never changes, so it is always (re)written; the state only when newer.
WRITE_STATE_LUA = """
redis.call('SET', KEYS[2], ARGV[6])
local current = redis.call('HGET', KEYS[1], 'state_version')
if current and tonumber(current) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'state_version', ARGV[1], 'status', ARGV[2], 'epoch', ARGV[3],
  'revealed', ARGV[4], 'view', ARGV[5])
return 1
"""


class PollStateCache:
    """Writes `room:<code>` and `poll:<id>:state`; reads participant counts."""

    def __init__(self, client: aioredis.Redis, keys: RedisKeys) -> None:
        self._client = client
        self._keys = keys
        self._write_state = client.register_script(WRITE_STATE_LUA)

    def _args(self, view: PollView, state_version: int) -> tuple[list[str], list[str]]:
        keys = [self._keys.poll_state(view.id), self._keys.room(view.room_code)]
        args = [
            str(state_version),
            view.status.value,
            str(view.epoch),
            "1" if view.revealed else "0",
            view.model_dump_json(),
            str(view.id),
        ]
        return keys, args

    async def write(self, view: PollView, state_version: int) -> bool:
        """Write the state unless Redis already holds this or a newer version; True if written."""
        keys, args = self._args(view, state_version)
        return bool(await self._write_state(keys=keys, args=args))

    async def write_many(self, states: Sequence[tuple[PollView, int]]) -> None:
        """The same conditional write for many polls in one round trip."""
        async with self._client.pipeline(transaction=False) as pipe:
            for view, state_version in states:
                keys, args = self._args(view, state_version)
                await self._write_state(keys=keys, args=args, client=pipe)
            await pipe.execute()

    async def write_and_count(self, view: PollView, state_version: int) -> int:
        """Read-through refresh plus the participant count, in one round trip."""
        keys, args = self._args(view, state_version)
        async with self._client.pipeline(transaction=False) as pipe:
            await self._write_state(keys=keys, args=args, client=pipe)
            pipe.hlen(self._keys.nicknames(view.id))
            _, count = await pipe.execute()
        return int(count)

    async def cached_versions(self, poll_ids: Sequence[UUID]) -> list[int | None]:
        """The state_version Redis holds for each poll (None when the state key is missing)."""
        async with self._client.pipeline(transaction=False) as pipe:
            for poll_id in poll_ids:
                pipe.hget(self._keys.poll_state(poll_id), "state_version")
            raw = await pipe.execute()
        return [None if value is None else int(value) for value in raw]
