"""poll-api fixtures: the app running in-process against the session's real servers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.poll_api.utils import app_settings, running_app
from tests.support.isolation import Resources


@pytest.fixture
async def client(resources: Resources) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(app_settings()) as (_, http):
        yield http
