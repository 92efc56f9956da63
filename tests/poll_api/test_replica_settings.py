"""The read replica's settings: where the URL comes from, what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from poll_api.settings import Settings


def test_the_read_url_falls_back_to_zephyr_and_reads_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ZEPHYR_READ_DATABASE_URL", "postgresql://z@replica/zephyr")
    assert Settings().read_database_url == "postgresql://z@replica/zephyr"
    secret = tmp_path / "read-database-url"
    secret.write_text("postgresql://f@replica/zephyr\n")
    monkeypatch.setenv("POLL_API_READ_DATABASE_URL_FILE", str(secret))
    assert Settings().read_database_url == "postgresql://f@replica/zephyr"
    monkeypatch.setenv("POLL_API_READ_DATABASE_URL", "postgresql://p@replica/zephyr")
    assert Settings().read_database_url == "postgresql://p@replica/zephyr"


def test_an_absent_optional_secret_file_means_no_replica(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ZEPHYR_READ_DATABASE_URL", raising=False)
    monkeypatch.setenv("POLL_API_READ_DATABASE_URL_FILE", str(tmp_path / "absent"))
    assert Settings().read_database_url is None
    # Any other secret's missing file still stops the start.
    monkeypatch.setenv("POLL_API_HOST_API_KEYS_FILE", str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError):
        Settings()


def test_bad_read_replica_settings_are_refused() -> None:
    with pytest.raises(ValidationError, match="read_database_url must start with postgresql"):
        Settings(read_database_url="mysql://replica/zephyr")
    with pytest.raises(ValidationError):
        Settings(read_replica_max_lag_seconds=0)


def test_the_read_your_writes_window_covers_the_lag_bound_and_a_check() -> None:
    settings = Settings(read_replica_max_lag_seconds=5, read_replica_check_seconds=1)
    assert settings.read_your_writes_seconds == 7.0
    assert Settings(read_database_url="").read_database_url is None
