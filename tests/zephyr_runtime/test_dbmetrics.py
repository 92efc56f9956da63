"""The query-duration hook of a failed SQLAlchemy statement (logic)."""

from __future__ import annotations

from types import SimpleNamespace

from zephyr_runtime.dbmetrics import forget_failed


def test_a_failure_without_a_connection_passes_and_one_with_drops_its_start_mark() -> None:
    # A connection lost before its statement ran reaches `handle_error` with no connection;
    # the hook raising there hid the real error (an AttributeError instead of the lost
    # connection) from poll-api's retry of a replica read on the primary.
    forget_failed(SimpleNamespace(connection=None))
    forget_failed(None)
    started = [1.0, 2.0]
    forget_failed(
        SimpleNamespace(connection=SimpleNamespace(info={"zephyr_query_started": started}))
    )
    assert started == [1.0]
