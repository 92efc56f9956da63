"""poll-api fixtures: the app running in-process against the session's real servers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.poll_api.utils import app_settings, running_app
from tests.support.isolation import Resources
from zephyr_runtime.keys import RedisKeys


@pytest.fixture
async def client(resources: Resources) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(app_settings()) as (_, http):
        yield http


@pytest.fixture
def keys(resources: Resources) -> RedisKeys:
    """The Redis key names of this session's prefix."""
    return RedisKeys(resources.redis_prefix)
