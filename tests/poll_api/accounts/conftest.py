"""The app with host accounts, and a clock the tests move (`ctx.clock`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from contracts import utcnow
from poll_api.context import AppContext
from tests.poll_api.utils import app_settings, running_app
from tests.support.isolation import Resources


@dataclass
class Clock:
    offset: timedelta = timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def move(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@dataclass
class App:
    client: httpx.AsyncClient
    ctx: AppContext
    clock: Clock
    app: FastAPI


@pytest.fixture
async def accounts(resources: Resources) -> AsyncIterator[App]:
    settings = app_settings(
        rate_limit_login_account="4/1m", rate_limit_login_ip="1000/1m", access_token_seconds=300
    )
    async with running_app(settings) as (app, client):
        ctx: AppContext = app.state.ctx
        clock = Clock()
        ctx.clock = clock
        yield App(client, ctx, clock, app)
