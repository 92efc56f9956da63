"""Alembic, the same way for every service that owns tables.

Each owning service keeps `migrations/` (with `env.py` calling `run_env()`) inside its package
and its own version table, so the services' migrations never collide in one database.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


def sqlalchemy_url(database_url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+asyncpg://" + database_url[len(prefix) :]
    return database_url


def alembic_config(script_location: Path, database_url: str, version_table: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    cfg.set_main_option("version_table", version_table)
    return cfg


def upgrade(script_location: Path, database_url: str, version_table: str) -> None:
    """Apply every migration of one service (`alembic upgrade head`)."""
    command.upgrade(alembic_config(script_location, database_url, version_table), "head")


@dataclass(frozen=True)
class Migrations:
    """The migrations of one service: `<package>/migrations/`, version table
    `alembic_version_<package>`."""

    package: str

    @property
    def script_location(self) -> Path:
        return Path(str(resources.files(self.package).joinpath("migrations")))

    @property
    def version_table(self) -> str:
        return f"alembic_version_{self.package}"

    def upgrade(self, database_url: str) -> None:
        upgrade(self.script_location, database_url, self.version_table)

    def downgrade(self, database_url: str, revision: str) -> None:
        """Undo migrations down to `revision` (`base`: all of them)."""
        command.downgrade(
            alembic_config(self.script_location, database_url, self.version_table), revision
        )


def run_env() -> None:
    """Body of each service's `migrations/env.py` (online mode, asyncpg)."""
    cfg = context.config
    url = cfg.get_main_option("sqlalchemy.url")
    version_table = cfg.get_main_option("version_table") or "alembic_version"
    assert url is not None

    def do_run(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=None, version_table=version_table)
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run_async())
