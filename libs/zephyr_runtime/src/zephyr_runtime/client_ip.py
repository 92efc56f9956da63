"""The real client IP: the peer address, or `X-Forwarded-For` only when a trusted proxy sent it.

Anyone can write an `X-Forwarded-For` header, so it is believed only when the connection comes
from a configured trusted proxy network. The list is then read from the right (the entry the
nearest proxy appended) past every trusted proxy; the first address that is not a trusted proxy
is the client. A malformed entry stops the walk: the last good hop is used.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """`["10.0.0.0/8", "127.0.0.1"]` -> networks; raises ValueError on a bad entry."""
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip())


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:1234"
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, nets: Sequence[Network]
) -> bool:
    return any(address in net for net in nets)


def real_client_ip(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]
) -> str | None:
    """The client's IP. `forwarded_for` holds every X-Forwarded-For header value, in order."""
    if peer is None:
        return None
    current = _address(peer)
    if current is None or not trusted or not _trusted(current, trusted):
        return peer[:64]
    hops = [hop for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break
        current = address
        if not _trusted(address, trusted):
            break
    return str(current)[:64]
