"""Changing the log level of a running service without a restart: a watched file.

Set `<PREFIX>_LOG_LEVEL_FILE` (or `ZEPHYR_LOG_LEVEL_FILE`) to a file holding a level name
(`DEBUG`, `INFO`, `WARNING`, `ERROR`). The settings loader reads it at start-up (the usual `_FILE`
rule) and a daemon thread re-reads it whenever it changes, so `echo DEBUG > $FILE` (or an updated
Kubernetes ConfigMap) takes effect within a second or two.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from zephyr_runtime.jsonlog import set_level

log = logging.getLogger(__name__)

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def level_file(env_prefix: str) -> Path | None:
    """The watched file named by `<PREFIX>LOG_LEVEL_FILE`, then `ZEPHYR_LOG_LEVEL_FILE`."""
    for prefix in (env_prefix, "ZEPHYR_"):
        value = os.environ.get(f"{prefix}LOG_LEVEL_FILE")
        if value:
            return Path(value)
    return None


def read_level(path: Path) -> str | None:
    """The level named in the file, or None when missing or not a level."""
    try:
        text = path.read_text(encoding="utf-8").strip().upper()
    except OSError:
        return None
    return text if text in LEVELS else None


class LogLevelWatcher:
    """Polls the file's modification time and size; applies a valid new level."""

    def __init__(self, path: Path, interval: float = 1.0) -> None:
        self.path = path
        self.interval = interval
        self._seen: tuple[int, int] | None = self._stamp()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-level-watch", daemon=True)

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def start(self) -> LogLevelWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def check(self) -> str | None:
        """Apply the file's level if the file changed; returns the level applied."""
        stamp = self._stamp()
        if stamp is None or stamp == self._seen:
            return None
        self._seen = stamp
        level = read_level(self.path)
        if level is None:
            log.warning("ignoring log level file: not one of %s", ", ".join(LEVELS))
            return None
        if logging.getLevelName(logging.getLogger().level) != level:
            set_level(level)
            log.warning("log level changed to %s", level, extra={"path": str(self.path)})
        return level

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # a watcher must never die on a bad file
                log.exception("log level watch failed")
