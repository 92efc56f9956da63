"""The accept step for a whole batch: one script call per poll, not one per vote.

Per vote the rule is the one of `votes.ACCEPT_SCRIPT`: only while the poll's cached status is
`open`, `seq = max(last + 1, Redis TIME in µs)` for the participant. Running it once per poll
for all of the batch's votes of that poll (in order) decides them at one instant, which keeps
closing exact, and costs Redis and the gateway one command instead of hundreds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Protocol
from uuid import UUID

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

from zephyr_runtime.keys import RedisKeys

# KEYS[1] poll state hash, KEYS[2] per-poll seq hash; ARGV participant ids, in vote order.
# Returns {epoch, seq1, seq2, ...}; {-1} when the poll is not open, {-2} when not cached.
ACCEPT_MANY_SCRIPT = """
local state = redis.call('HMGET', KEYS[1], 'status', 'epoch')
if not state[1] then return {-2} end
if state[1] ~= 'open' then return {-1} end
local now = redis.call('TIME')
local clock = tonumber(now[1]) * 1000000 + tonumber(now[2])
local out = {tonumber(state[2] or '0')}
for i = 1, #ARGV do
  local seq = tonumber(redis.call('HGET', KEYS[2], ARGV[i]) or '0') + 1
  if clock > seq then seq = clock end
  redis.call('HSET', KEYS[2], ARGV[i], string.format('%d', seq))
  out[i + 1] = seq
end
return out
"""
ACCEPT_MANY_SHA = hashlib.sha1(ACCEPT_MANY_SCRIPT.encode()).hexdigest()  # noqa: S324 - Redis id


class Ballot(Protocol):
    poll_id: UUID
    participant_id: UUID


async def accept_many(redis: aioredis.Redis, keys: RedisKeys, batch: Sequence[Ballot]) -> list[Any]:
    """Per vote, what the single-vote script returns: `[seq, epoch]`, `[-1]`, `[-2]`, or the
    exception of its poll's call (errors are values, like a pipeline with raise_on_error off)."""
    groups: dict[UUID, list[int]] = {}
    for index, vote in enumerate(batch):
        groups.setdefault(vote.poll_id, []).append(index)
    replies = await _run(redis, keys, batch, groups)
    if any(isinstance(r, NoScriptError) for r in replies):
        # Redis restarted and forgot the script: load it and redo only the polls it refused.
        await redis.script_load(ACCEPT_MANY_SCRIPT)
        redo = {
            p: i
            for (p, i), r in zip(groups.items(), replies, strict=True)
            if isinstance(r, NoScriptError)
        }
        again = iter(await _run(redis, keys, batch, redo))
        replies = [next(again) if isinstance(r, NoScriptError) else r for r in replies]
    results: list[Any] = [None] * len(batch)
    for indexes, reply in zip(groups.values(), replies, strict=True):
        if isinstance(reply, Exception):
            for i in indexes:
                results[i] = reply
            continue
        code_or_epoch = int(reply[0])
        if code_or_epoch < 0 or len(reply) == 1:
            for i in indexes:
                results[i] = [code_or_epoch]
            continue
        for i, seq in zip(indexes, reply[1:], strict=True):
            results[i] = [int(seq), code_or_epoch]
    return results


async def _run(
    redis: aioredis.Redis, keys: RedisKeys, batch: Sequence[Ballot], groups: dict[UUID, list[int]]
) -> list[Any]:
    async with redis.pipeline(transaction=False) as pipe:
        for poll_id, indexes in groups.items():
            pipe.evalsha(
                ACCEPT_MANY_SHA,
                2,
                keys.poll_state(poll_id),
                keys.vote_seq(poll_id),
                *(str(batch[i].participant_id) for i in indexes),
            )
        return list(await pipe.execute(raise_on_error=False))
