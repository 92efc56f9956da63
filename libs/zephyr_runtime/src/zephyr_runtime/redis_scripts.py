"""Lua scripts in Redis: run by EVALSHA, loaded again only when Redis answers NOSCRIPT.

redis-py's `register_script` asks `SCRIPT EXISTS` before every pipeline that holds a script: one
more round trip per batch on the hot path. A `RedisScript` sends `EVALSHA` straight away; when
Redis has lost its scripts (a restart, `SCRIPT FLUSH`, a failover) the NOSCRIPT answer makes it
load the script and send the same call again. Only the calls that Redis refused are sent again:
a refused EVALSHA ran nothing, so repeating it is safe.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

Arg = str | bytes | int | float


@dataclass(frozen=True)
class RedisScript:
    source: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        digest = hashlib.sha1(self.source.encode(), usedforsecurity=False).hexdigest()
        object.__setattr__(self, "sha", digest)

    async def load(self, client: aioredis.Redis) -> None:
        """Load the script ahead of use (optional: the first NOSCRIPT loads it too)."""
        await client.script_load(self.source)

    async def run(self, client: aioredis.Redis, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        """One call; loads the script and calls again if Redis does not know it."""
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            await self.load(client)
            return await client.evalsha(self.sha, len(keys), *keys, *args)


ScriptCall = tuple[RedisScript, Sequence[Arg], Sequence[Arg]]


async def run_pipelined(
    client: aioredis.Redis, calls: Sequence[ScriptCall], *, raise_on_error: bool = True
) -> list[Any]:
    """Several script calls in one round trip; the results in the order of `calls`.

    With `raise_on_error=False` a call that failed has its exception in its place instead.
    """
    results = await _execute(client, calls)
    refused = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
    if refused:
        for script in {calls[i][0] for i in refused}:
            await script.load(client)
        again = await _execute(client, [calls[i] for i in refused])
        for i, result in zip(refused, again, strict=True):
            results[i] = result
    if raise_on_error:
        for result in results:
            if isinstance(result, Exception):
                raise result
    return results


async def _execute(client: aioredis.Redis, calls: Sequence[ScriptCall]) -> list[Any]:
    pipe = client.pipeline(transaction=False)
    for script, keys, args in calls:
        pipe.evalsha(script.sha, len(keys), *keys, *args)
    return list(await pipe.execute(raise_on_error=False))
