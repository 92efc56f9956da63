"""Backup and restore: a backup taken, the database wiped, everything found again."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import asyncpg
import pytest

from tests.ops.seed import Seeded, snapshot
from tests.support.isolation import PG_ADMIN_URL, Resources

ROOT = Path(__file__).resolve().parents[2]
BACKUP = ROOT / "infra" / "scripts" / "backup.sh"
RESTORE = ROOT / "infra" / "scripts" / "restore.sh"


async def wipe(res: Resources) -> None:
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE "{res.name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{res.name}"')
    finally:
        await admin.close()


def run(*args: str | Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


async def test_encrypted_backup_wipe_restore_finds_everything(
    seeded_db: tuple[Resources, Seeded], tmp_path: Path
) -> None:
    res, seeded = seeded_db
    before = await snapshot(res.database_url)
    assert len(before["polls"]) == 3 and len(before["ballots"]) == 9
    assert len(before["audit_log"]) == 7
    secret = tmp_path / "passphrase"
    secret.write_text("correct horse battery staple\n")
    out = tmp_path / "zephyr.dump.enc"

    made = await asyncio.to_thread(
        run, BACKUP, "-o", out, res.database_url, ZEPHYR_BACKUP_PASSPHRASE_FILE=str(secret)
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == str(out)
    assert out.read_bytes().startswith(b"Salted__")  # encrypted, not a readable archive
    assert oct(out.stat().st_mode & 0o777) == "0o600"

    await wipe(res)
    assert (await snapshot_or_none(res.database_url)) is None

    wrong = await asyncio.to_thread(
        run, RESTORE, out, res.database_url, ZEPHYR_BACKUP_PASSPHRASE="not it"
    )
    assert wrong.returncode != 0
    assert (await snapshot_or_none(res.database_url)) is None  # nothing half-restored

    restored = await asyncio.to_thread(
        run, RESTORE, out, res.database_url, ZEPHYR_BACKUP_PASSPHRASE_FILE=str(secret)
    )
    assert restored.returncode == 0, restored.stderr
    after = await snapshot(res.database_url)
    assert after == before
    ballots = {row[0] for row in after["ballots"]}
    assert ballots == {v for votes in seeded.votes.values() for v in votes}
    assert {row[0] for row in after["audit_log"]} == {
        e for events in seeded.audit.values() for e in events
    }
    # The restored audit_log is still append-only, and migrations know where they are.
    conn = await asyncpg.connect(res.database_url)
    try:
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("DELETE FROM audit_log")
        versions = await conn.fetchval("SELECT version_num FROM alembic_version_poll_api")
        assert versions
    finally:
        await conn.close()


async def test_plain_backup_restores_over_existing_data_with_clean(
    seeded_db: tuple[Resources, Seeded], tmp_path: Path
) -> None:
    res, _ = seeded_db
    before = await snapshot(res.database_url)
    out = tmp_path / "plain.dump"
    made = await asyncio.to_thread(run, BACKUP, "-o", out, ZEPHYR_DATABASE_URL=res.database_url)
    assert made.returncode == 0, made.stderr
    assert out.read_bytes().startswith(b"PGDMP")  # pg_dump's custom format
    conn = await asyncpg.connect(res.database_url)
    try:
        await conn.execute("DELETE FROM votes")
    finally:
        await conn.close()
    restored = await asyncio.to_thread(
        run, RESTORE, "--clean", out, ZEPHYR_DATABASE_URL=res.database_url
    )
    assert restored.returncode == 0, restored.stderr
    assert await snapshot(res.database_url) == before


async def snapshot_or_none(database_url: str) -> dict[str, list[tuple[object, ...]]] | None:
    try:
        return await snapshot(database_url)
    except asyncpg.UndefinedTableError:
        return None
