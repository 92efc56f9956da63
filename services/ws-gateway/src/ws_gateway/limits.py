"""Per-connection frame limit, in memory (a connection lives in one process: no Redis needed).

The same GCRA as the shared limiter: a burst of `limit` frames, then one per
`period / limit`. A connection that keeps sending while refused is closed (1008) after
`flood_close_after` refusals in a row: answering a flood frame by frame would cost more than it.
"""

from __future__ import annotations

import time

from zephyr_runtime.ratelimit import RateRule


class LocalRate:
    __slots__ = ("_interval", "_period", "_tat", "refused_in_a_row")

    def __init__(self, rule: RateRule) -> None:
        self._period = rule.period_seconds
        self._interval = rule.period_seconds / rule.limit
        self._tat = 0.0
        self.refused_in_a_row = 0

    def allow(self, now: float | None = None) -> float:
        """0.0 when allowed (and counted), else the seconds to wait."""
        now = time.monotonic() if now is None else now
        tat = max(self._tat, now)
        wait = tat + self._interval - self._period - now
        if wait > 0:
            self.refused_in_a_row += 1
            return wait
        self._tat = tat + self._interval
        self.refused_in_a_row = 0
        return 0.0
