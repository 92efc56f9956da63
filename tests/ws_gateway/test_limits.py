"""The in-memory budget of one connection (LocalRate): a burst, then one per interval."""

from __future__ import annotations

import pytest

from ws_gateway.limits import LocalRate
from zephyr_runtime.ratelimit import RateRule


def test_a_burst_of_limit_then_one_per_period_over_limit() -> None:
    rate = LocalRate(RateRule.parse("4/2s"))  # a burst of 4, then one every 0.5 s
    assert [rate.allow(now=100.0) for _ in range(4)] == [0.0] * 4
    assert rate.allow(now=100.0) == pytest.approx(0.5)
    assert rate.allow(now=100.2) == pytest.approx(0.3)
    assert rate.refused_in_a_row == 2
    assert rate.allow(now=100.5) == 0.0
    assert rate.refused_in_a_row == 0  # an allowed frame ends the run of refusals
    assert rate.allow(now=100.5) > 0


def test_a_quiet_connection_gets_its_burst_back() -> None:
    rate = LocalRate(RateRule.parse("2/1s"))
    assert rate.allow(now=10.0) == rate.allow(now=10.0) == 0.0
    assert rate.allow(now=10.0) > 0
    assert rate.allow(now=12.0) == rate.allow(now=12.0) == 0.0
