"""The async SQLAlchemy engine and session factory (built at start-up, never at import)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from poll_api.settings import Settings
from zephyr_runtime.dbmetrics import instrument_sqlalchemy
from zephyr_runtime.migrations import sqlalchemy_url


def make_engine(
    settings: Settings, url: str | None = None, application_name: str = "poll-api"
) -> AsyncEngine:
    """The primary's engine; with `url`, another server's (the read replica's)."""
    engine = create_async_engine(
        sqlalchemy_url(url or settings.database_url),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_timeout=settings.db_acquire_timeout_seconds,
        pool_pre_ping=True,  # survive a Postgres restart without failing the first request
        connect_args={
            "timeout": settings.db_connect_timeout_seconds,
            "command_timeout": settings.db_command_timeout_seconds,
            "server_settings": settings.db_server_settings(application_name),
        },
    )
    instrument_sqlalchemy(engine)  # zephyr_db_query_duration_seconds
    return engine


def make_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
