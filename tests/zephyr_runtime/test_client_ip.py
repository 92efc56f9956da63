"""zephyr_runtime.client_ip: X-Forwarded-For is believed only from trusted proxies."""

from __future__ import annotations

from zephyr_runtime.client_ip import parse_networks, real_client_ip


def test_forwarded_for_is_used_only_behind_trusted_proxies() -> None:
    proxies = parse_networks(["10.0.0.0/8", "127.0.0.1"])
    assert real_client_ip("203.0.113.5", ["1.2.3.4"], proxies) == "203.0.113.5"
    assert real_client_ip("10.0.0.2", ["1.2.3.4"], proxies) == "1.2.3.4"
    # Spoofed left entries are skipped: the first untrusted hop from the right wins.
    assert real_client_ip("10.0.0.2", ["6.6.6.6, 1.2.3.4, 10.0.0.9"], proxies) == "1.2.3.4"
    assert real_client_ip("10.0.0.2", ["garbage"], proxies) == "10.0.0.2"
    assert real_client_ip("127.0.0.1", ["[2001:db8::1]:443"], proxies) == "2001:db8::1"
    assert real_client_ip("10.0.0.2", ["1.2.3.4"], ()) == "10.0.0.2"
