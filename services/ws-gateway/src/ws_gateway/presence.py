"""Participant sockets per poll across every gateway, in Redis (docs/architecture.md).

Each gateway process writes, once per heartbeat (`presence_interval_ms`), one field of the
poll's presence hash per poll it serves (`poll:<id>:presence`, field = this process, value =
participant sockets joined here now) and refreshes its own alive key
(`gateway:<process>:alive`) with a TTL of `presence_ttl_seconds`. A reader sums the fields of
the gateways whose alive key exists and deletes the others: a gateway that was SIGKILLed stops
refreshing its key, and its participants drop out of `connected` once the TTL has passed. A
gateway that stops cleanly deletes its key and fields at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

import redis.asyncio as aioredis

from zephyr_runtime.keys import RedisKeys
from zephyr_runtime.redis_scripts import RedisScript

# The presence hash expires unless refreshed: a poll nobody serves leaves nothing behind.
HASH_TTL_SECONDS = 3600

# KEYS[1] the poll's presence hash, KEYS[2] its nickname hash, KEYS[3] the current question's
# tally hash. ARGV[1], ARGV[2]: the prefix and suffix of a gateway's alive key.
# Returns {connected, joined, tally epoch or nil, tally total or nil}; prunes dead gateways.
READ_PRESENCE = RedisScript("""
local fields = redis.call('HGETALL', KEYS[1])
local connected = 0
for i = 1, #fields, 2 do
  if redis.call('EXISTS', ARGV[1] .. fields[i] .. ARGV[2]) == 1 then
    connected = connected + (tonumber(fields[i + 1]) or 0)
  else
    redis.call('HDEL', KEYS[1], fields[i])
  end
end
local joined = redis.call('HLEN', KEYS[2])
local tally = redis.call('HMGET', KEYS[3], 'epoch', 'total')
return {connected, joined, tally[1], tally[2]}
""")


@dataclass(frozen=True)
class Headcount:
    connected: int  # participant sockets on live gateways
    joined: int  # participants who ever joined (claimed a nickname)
    tally_epoch: int | None  # the current question's stored tally, if any
    tally_total: int | None


class Presence:
    """One gateway process's side of the presence hashes."""

    def __init__(
        self, redis: aioredis.Redis, keys: RedisKeys, gateway: str, ttl_seconds: float
    ) -> None:
        self._redis = redis
        self._keys = keys
        self.gateway = gateway
        self._ttl_ms = max(1, round(ttl_seconds * 1000))
        self._written: set[UUID] = set()  # polls with a field of ours

    async def publish(self, counts: Mapping[UUID, int]) -> None:
        """The heartbeat: this process is alive and serves `counts` (poll -> sockets)."""
        live = {poll_id: n for poll_id, n in counts.items() if n > 0}
        gone = self._written - set(live)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(self._keys.gateway_alive(self.gateway), "1", px=self._ttl_ms)
            for poll_id, n in live.items():
                key = self._keys.presence(poll_id)
                pipe.hset(key, self.gateway, str(n))
                pipe.expire(key, HASH_TTL_SECONDS)
            for poll_id in gone:
                pipe.hdel(self._keys.presence(poll_id), self.gateway)
            await pipe.execute()
        self._written = set(live)

    async def withdraw(self) -> None:
        """A clean stop: this process serves nobody any more."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.delete(self._keys.gateway_alive(self.gateway))
            for poll_id in self._written:
                pipe.hdel(self._keys.presence(poll_id), self.gateway)
            await pipe.execute()
        self._written = set()

    async def read(self, poll_id: UUID, qid: int) -> Headcount:
        """Who is there now, question `qid` being the current one."""
        alive = self._keys.gateway_alive("\0").split("\0")
        reply = await READ_PRESENCE.run(
            self._redis,
            [
                self._keys.presence(poll_id),
                self._keys.nicknames(poll_id),
                self._keys.tally(poll_id, qid),
            ],
            [alive[0], alive[1]],
        )
        epoch, total = (reply[2], reply[3]) if len(reply) >= 4 else (None, None)
        return Headcount(
            connected=int(reply[0]),
            joined=int(reply[1]),
            tally_epoch=int(epoch) if epoch is not None and str(epoch).isdigit() else None,
            tally_total=int(total) if total is not None and str(total).isdigit() else None,
        )
