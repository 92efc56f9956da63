"""What every connection shares within one gateway process, wired from its connections."""

from __future__ import annotations

import uuid

import httpx
import redis.asyncio as aioredis
from aio_pika.abc import AbstractRobustConnection

from ws_gateway.audit import security_events
from ws_gateway.fanout import Fanout
from ws_gateway.guard import GuardedPublisher, LoadGuard
from ws_gateway.hosts import HostDesk
from ws_gateway.idle import IdleSweeper
from ws_gateway.joins import JoinAnnouncer
from ws_gateway.limits import Limits
from ws_gateway.live import LiveFeed
from ws_gateway.presence import Presence
from ws_gateway.qa import QaDesk
from ws_gateway.quiz import QuizFanout
from ws_gateway.rooms import RoomDirectory
from ws_gateway.settings import Settings
from ws_gateway.votes import VoteBatcher
from zephyr_runtime.health import Check
from zephyr_runtime.keys import RedisKeys


class GatewayContext:
    """The process's parts, built (not started) from the settings and the open connections.

    `app.Gateway` starts and stops them in order; a session reads them from here.
    """

    def __init__(
        self,
        settings: Settings,
        redis: aioredis.Redis,
        amqp: AbstractRobustConnection,
        http: httpx.AsyncClient,
    ) -> None:
        s = settings
        self.settings = s
        self.redis = redis
        self.http = http
        self.keys = RedisKeys(s.redis_prefix)
        self.draining = False  # set at shutdown: no new connections, joins or votes
        self.idle = IdleSweeper(s.idle_timeout_seconds)
        self.guard = LoadGuard(
            amqp,
            redis,
            max_backlog=s.shed_votes_backlog,
            max_in_flight=s.shed_votes_in_flight,
            sample_seconds=s.guard_sample_ms / 1000,
            timeout=s.redis_timeout_seconds,
            breaker_failures=s.breaker_failures,
            breaker_reset_seconds=s.breaker_reset_seconds,
        )
        self.publisher = GuardedPublisher(
            amqp, timeout=s.publish_timeout_seconds, breaker=self.guard.amqp_breaker
        )
        self.joins = JoinAnnouncer(self.publisher)
        self.events = security_events(
            self.publisher, window_seconds=s.security_event_window_seconds
        )
        self.limits = Limits(s, redis, self.events)
        self.rooms = RoomDirectory(redis, self.keys, http, s.poll_api_url)
        self.fanout = Fanout(
            self.rooms, redis, self.keys, s.tally_interval_ms, s.tally_frame_budget
        )
        self.quiz = QuizFanout(self.rooms, self.fanout, redis, self.keys)
        self.qa = QaDesk(
            s, redis, self.keys, self.fanout, self.publisher, self.limits.limiter, http
        )
        self.rooms.on_api_poll.append(self.qa.remember)
        self.live = LiveFeed(amqp, self.fanout, self.rooms, s.instance_id, self.quiz, self.qa)
        self.rooms.set_liveness(self.live.is_bound)
        # Field of this process in the presence hashes: unique even for gateways in one process.
        gateway = f"{s.instance_id}:{uuid.uuid4().hex[:8]}"
        self.presence = Presence(redis, self.keys, gateway, s.presence_ttl_seconds)
        self.hosts = HostDesk(
            s, redis, self.keys, self.rooms, self.fanout, self.qa, self.quiz, self.presence
        )
        self.batcher = VoteBatcher(s, redis, self.keys, self.publisher, self.rooms.refresh_from_api)

    def dependency_checks(self) -> dict[str, Check]:
        """What /health/ready checks and the ops sampler exports as `zephyr_dependency_up`."""

        async def redis() -> None:
            await self.redis.ping()  # read at call time: a test may swap the client

        return {"redis": redis, "rabbitmq": self.live.check}
