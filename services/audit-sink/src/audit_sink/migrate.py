"""Apply audit-sink's database migrations (`audit-sink migrate`)."""

from __future__ import annotations

from pathlib import Path

from zephyr_runtime import migrations

VERSION_TABLE = "alembic_version_audit_sink"
SCRIPT_LOCATION = Path(__file__).parent / "migrations"


def upgrade(database_url: str) -> None:
    migrations.upgrade(SCRIPT_LOCATION, database_url, VERSION_TABLE)
