"""What every connection handler shares within one gateway process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis.asyncio as aioredis

from ws_gateway.fanout import Fanout
from ws_gateway.guard import LoadGuard
from ws_gateway.live import LiveFeed
from ws_gateway.rooms import RoomDirectory
from ws_gateway.settings import Settings
from ws_gateway.votes import VoteBatcher
from zephyr_runtime.amqp import ConfirmedPublisher
from zephyr_runtime.keys import RedisKeys

if TYPE_CHECKING:  # security imports http, which imports this module
    from ws_gateway.security import Security


@dataclass
class GatewayContext:
    settings: Settings
    redis: aioredis.Redis
    keys: RedisKeys
    publisher: ConfirmedPublisher
    rooms: RoomDirectory
    batcher: VoteBatcher
    fanout: Fanout
    live: LiveFeed
    draining: bool = False
    guard: LoadGuard | None = None
    security: Security | None = None
