"""Open file descriptors: every WebSocket is one, and 10,000 of them pass the usual 1,024."""

from __future__ import annotations

import logging
import resource

log = logging.getLogger(__name__)


def raise_open_files_limit() -> int:
    """Lift the soft RLIMIT_NOFILE to the hard limit (no privilege needed); the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == hard:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as exc:
        log.warning("could not raise the open files limit", extra={"error": repr(exc)})
        return soft
    return hard
