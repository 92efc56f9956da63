"""Nickname claims in `poll:<id>:nicks`, gated on Redis holding its rebuilt state.

A nickname is unique per poll case-insensitively (`casefold()`). Redis is the only place the
gateway checks that, so after Redis lost its data (FLUSHALL, a restart without persistence)
every nickname would look free until vote-worker has written the claims back from Postgres.
The claim script therefore runs only while the sentinel `<prefix>:alive` exists (the rebuild
sets it when done, `vote_worker.rebuild`): without it a claim, and a resume too (whose own
answers are not back yet), is `REBUILDING` and the participant is told `unavailable` with a
`retry_after`. Checking the sentinel inside the script makes it atomic with the claim: no
claim slips in between a check and a flush.
"""

from __future__ import annotations

import enum
from uuid import UUID

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from zephyr_runtime.keys import RedisKeys
from zephyr_runtime.redis_scripts import RedisScript

# KEYS[1] the sentinel, KEYS[2] the poll's nickname hash; ARGV casefolded nickname, participant
# id, '1' for a resume (its signed token is the proof: it re-claims the nickname) or '0'.
# Returns 1 claimed, 0 taken, -1 Redis has not been rebuilt yet.
CLAIM = RedisScript("""
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  return 1
end
return redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
""")


class Claim(enum.Enum):
    CLAIMED = 1
    TAKEN = 0
    REBUILDING = -1


async def claim_nickname(
    redis: aioredis.Redis,
    keys: RedisKeys,
    poll_id: UUID,
    nickname: str,
    participant_id: UUID,
    *,
    resume: bool,
) -> Claim:
    """Claim `nickname` for `participant_id` (a resume takes it even if held); raises
    RedisError when Redis cannot be reached."""
    result = await CLAIM.run(
        redis,
        [keys.alive(), keys.nicknames(poll_id)],
        [nickname.casefold(), str(participant_id), "1" if resume else "0"],
    )
    return Claim(int(result))


async def unclaim_nickname(
    redis: aioredis.Redis, keys: RedisKeys, poll_id: UUID, nickname: str, participant_id: UUID
) -> None:
    """Give the nickname back if this participant still holds it (best effort)."""
    key = keys.nicknames(poll_id)
    try:
        if await redis.hget(key, nickname.casefold()) == str(participant_id):
            await redis.hdel(key, nickname.casefold())
    except RedisError:
        pass  # the resume token is not issued, so a stale claim only blocks the nickname
