"""The Redis copy of each question's tally: written only when its version is newer."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import redis.asyncio as aioredis

from vote_worker.questions import Key
from vote_worker.tallies import TallySnapshot
from zephyr_runtime.keys import RedisKeys
from zephyr_runtime.redis_scripts import RedisScript, ScriptCall, run_pipelined

# KEYS[1] tally hash of one question; ARGV: version, epoch, kind, counts (JSON), total,
# aggregate (JSON), ttl seconds. Returns 1 when written, 0 when Redis already held this version
# or a newer one.
WRITE_IF_NEWER = RedisScript("""
local current = redis.call('HGET', KEYS[1], 'version')
if current and tonumber(current) >= tonumber(ARGV[1]) then
    return 0
end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'epoch', ARGV[2], 'kind', ARGV[3],
           'counts', ARGV[4], 'total', ARGV[5], 'aggregate', ARGV[6])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[7]))
return 1
""")


class TallyCache:
    def __init__(self, client: aioredis.Redis, keys: RedisKeys, ttl_seconds: int) -> None:
        self._client = client
        self._keys = keys
        self._ttl = ttl_seconds

    def key(self, tally: TallySnapshot) -> str:
        return self._keys.tally(tally.poll_id, tally.qid)

    async def write(self, tallies: Sequence[TallySnapshot]) -> list[bool]:
        """Write each tally if newer, in one round trip; True where Redis took it."""
        if not tallies:
            return []
        calls: list[ScriptCall] = [
            (
                WRITE_IF_NEWER,
                [self.key(tally)],
                [
                    tally.version,
                    tally.epoch,
                    tally.kind,
                    orjson.dumps(list(tally.counts)),
                    tally.total,
                    orjson.dumps(tally.aggregate),
                    self._ttl,
                ],
            )
            for tally in tallies
        ]
        results = await run_pipelined(self._client, calls)
        return [bool(int(r)) for r in results]

    async def versions(self, questions: Sequence[Key]) -> list[int | None]:
        """The version Redis holds for each (poll_id, qid) (None when the key is missing)."""
        if not questions:
            return []
        async with self._client.pipeline(transaction=False) as pipe:
            for poll_id, qid in questions:
                pipe.hget(self._keys.tally(poll_id, qid), "version")
            results = await pipe.execute()
        return [None if r is None else int(r) for r in results]
