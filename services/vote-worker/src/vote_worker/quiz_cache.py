"""The Redis copy of a poll's quiz scores: the results hash (`RedisKeys.quiz_results`) and the
leaderboard string (`RedisKeys.leaderboard`, the `QuizScored` body).

The hash is staged under a key of its own (chunks of `CHUNK` entries in one pipeline), then one
script swaps it in (RENAME) and sets the board, only when the board Redis holds is older: a
reader never sees half a hash, and an older recomputation that finishes last changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import redis.asyncio as aioredis

from vote_worker.quiz import QuizOutcome
from zephyr_runtime.keys import RedisKeys
from zephyr_runtime.redis_scripts import RedisScript

CHUNK = 1000
STAGED_TTL_S = 300  # a staged hash a crash left behind goes by itself

# KEYS: results hash, board, staged hash; ARGV: version, board JSON ('' to clear), ttl seconds.
# Returns 1 when swapped in (or cleared), 0 when Redis already holds this version or a newer one.
SWAP_IF_NEWER = RedisScript("""
local current = redis.call('GET', KEYS[2])
if current then
    local ok, board = pcall(cjson.decode, current)
    if ok and type(board) == 'table' and tonumber(board['version'])
       and tonumber(board['version']) >= tonumber(ARGV[1]) then
        redis.call('DEL', KEYS[3])
        return 0
    end
end
if ARGV[2] == '' then
    redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
    return 1
end
if redis.call('EXISTS', KEYS[3]) == 1 then
    redis.call('RENAME', KEYS[3], KEYS[1])
    redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
else
    redis.call('DEL', KEYS[1])
end
redis.call('SET', KEYS[2], ARGV[2], 'EX', tonumber(ARGV[3]))
return 1
""")


class QuizCache:
    def __init__(self, client: aioredis.Redis, keys: RedisKeys, ttl_seconds: int) -> None:
        self._client = client
        self._keys = keys
        self._ttl = ttl_seconds

    def staged_key(self, poll_id: UUID, version: int) -> str:
        return f"{self._keys.quiz_results(poll_id)}:staged:{version}"

    async def write(self, outcome: QuizOutcome) -> bool:
        """Write the outcome's hash and board unless Redis holds a newer version; True when
        written. Without a scored question (every quiz question reset) both keys go."""
        poll_id = outcome.poll_id
        staged = self.staged_key(poll_id, outcome.version)
        message = outcome.message()
        entries = outcome.entries()
        if entries:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.delete(staged)
                for start in range(0, len(entries), CHUNK):
                    pipe.hset(staged, mapping=dict(entries[start : start + CHUNK]))
                pipe.expire(staged, STAGED_TTL_S)
                await pipe.execute()
        board = b"" if message is None else message.model_dump_json().encode()
        keys = [self._keys.quiz_results(poll_id), self._keys.leaderboard(poll_id), staged]
        swapped = await SWAP_IF_NEWER.run(self._client, keys, [outcome.version, board, self._ttl])
        return bool(int(swapped))

    async def missing_boards(self, polls: Sequence[UUID]) -> list[UUID]:
        """The polls among these whose leaderboard key Redis does not hold."""
        if not polls:
            return []
        async with self._client.pipeline(transaction=False) as pipe:
            for poll_id in polls:
                pipe.exists(self._keys.leaderboard(poll_id))
            found = await pipe.execute()
        return [poll_id for poll_id, exists in zip(polls, found, strict=True) if not exists]
