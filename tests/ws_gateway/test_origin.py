"""ws_gateway.origin: which browser origins may open a WebSocket."""

from __future__ import annotations

from ws_gateway.origin import OriginPolicy


def test_origin_policy() -> None:
    policy = OriginPolicy(["https://vote.example.org"], allow_missing=True)
    assert policy.allows("https://vote.example.org", "gw.internal:8001")
    assert policy.allows("HTTPS://VOTE.EXAMPLE.ORG/", "gw.internal:8001")
    assert policy.allows("http://gw.example.org:8001", "gw.example.org:8001")  # own origin
    assert not policy.allows("https://evil.example.net", "gw.example.org:8001")
    assert not policy.allows("null", "gw.example.org:8001")
    assert policy.allows(None, "gw.example.org:8001")
    assert not OriginPolicy([], allow_missing=False).allows(None, "gw")
