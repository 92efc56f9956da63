"""Asking poll-api whether a token controls a poll (`GET /api/polls/{room}/host-check`).

The gateway has no Postgres: host tokens are stored hashed, host links and accounts live in
poll-api's tables. So the one place that decides is poll-api's `service.authorize`, the same
check as every host route.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import quote

import httpx

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HostAccepted:
    poll_id: str


@dataclass(frozen=True)
class HostRefused:
    status_code: int
    reason: str


@dataclass(frozen=True)
class HostCheckUnavailable:
    reason: str


HostVerdict = HostAccepted | HostRefused | HostCheckUnavailable


def _detail(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        body = None
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str) and detail:
        return detail[:200]
    return "this token does not control this poll"


async def check_host(
    http: httpx.AsyncClient, poll_api_url: str, room_code: str, token: str, correlation_id: str
) -> HostVerdict:
    """poll-api's verdict on `token` for the poll `room_code`."""
    if not (token.isascii() and token.isprintable()) or " " in token:
        return HostRefused(401, "the token is malformed")
    url = f"{poll_api_url.rstrip('/')}/api/polls/{quote(room_code, safe='')}/host-check"
    headers = {"Authorization": f"Bearer {token}", "X-Request-ID": correlation_id}
    try:
        resp = await http.get(url, headers=headers)
    except httpx.HTTPError as exc:
        return HostCheckUnavailable(type(exc).__name__)
    if resp.status_code == 200:
        try:
            body = resp.json()
            return HostAccepted(str(body["poll_id"]))
        except (ValueError, KeyError, TypeError):
            return HostCheckUnavailable("poll-api answered an unreadable host check")
    if resp.status_code in (401, 403, 404):
        return HostRefused(resp.status_code, _detail(resp))
    return HostCheckUnavailable(f"poll-api answered {resp.status_code}")
