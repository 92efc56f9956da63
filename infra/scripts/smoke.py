"""Smoke check of a running Zephyr: a real poll, a participant joins, votes, and sees the tally.

    python infra/scripts/smoke.py --api URL --ws URL [--timeout 30]

`--api` is poll-api's base URL (http[s]://…), `--ws` the gateway's (ws[s]://…, without /ws).
Creates a poll "Smoke check", opens it, joins as a participant over the WebSocket, votes once,
waits for `vote_accepted` and a `tally` whose total is 1, then closes the poll. Prints one line
per step; exits 0 when all passed, 1 with the failing step's reason otherwise. The deploy
workflow runs it against the deployed URLs and rolls back when it fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

import httpx
import websockets


class SmokeFailed(Exception):
    pass


def step(name: str, started: float) -> None:
    print(f"[smoke] ok   {name} ({(time.monotonic() - started) * 1000:.0f} ms)", flush=True)


async def _frame(ws: Any, wanted: set[str], deadline: float) -> dict[str, Any]:
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise SmokeFailed(f"no {'/'.join(sorted(wanted))} frame in time")
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), left))
        if frame.get("type") == "error":
            raise SmokeFailed(f"gateway error {frame.get('code')}: {frame.get('message')}")
        if frame.get("type") in wanted:
            return frame


async def check(api: str, ws_base: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=api, timeout=10) as http:
        # With host API keys on, creating needs one: ZEPHYR_SMOKE_HOST_KEY (docs/operations.md).
        key = os.environ.get("ZEPHYR_SMOKE_HOST_KEY")
        created = await http.post(
            "/api/polls",
            json={"question": "Smoke check", "options": ["yes", "no"]},
            headers={"Authorization": f"Bearer {key}"} if key else None,
        )
        if created.status_code != 201:
            raise SmokeFailed(f"create poll: {created.status_code} {created.text[:200]}")
        poll = created.json()
        room, auth = poll["room_code"], {"Authorization": f"Bearer {poll['host_token']}"}
        step(f"poll {room} created", started)
        opened = await http.post(f"/api/polls/{room}/open", headers=auth)
        if opened.status_code != 200:
            raise SmokeFailed(f"open poll: {opened.status_code} {opened.text[:200]}")
        step("poll opened", started)
        async with websockets.connect(f"{ws_base}/ws/{room}", open_timeout=10) as ws:
            await ws.send(json.dumps({"type": "join", "nickname": "smoke"}))
            await _frame(ws, {"joined"}, deadline)
            step("participant joined", started)
            await ws.send(json.dumps({"type": "vote", "option": 0, "client_vote_id": "smoke"}))
            await _frame(ws, {"vote_accepted"}, deadline)
            step("vote accepted", started)
            while (await _frame(ws, {"tally"}, deadline)).get("total") != 1:
                pass
            step("tally seen with the vote", started)
        await http.post(f"/api/polls/{room}/close", headers=auth)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--api", required=True, help="poll-api base URL, e.g. http://127.0.0.1:8000"
    )
    parser.add_argument("--ws", required=True, help="gateway base URL, e.g. ws://127.0.0.1:8001")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    try:
        asyncio.run(check(args.api.rstrip("/"), args.ws.rstrip("/"), args.timeout))
    except (SmokeFailed, OSError, httpx.HTTPError, websockets.WebSocketException) as exc:
        print(f"[smoke] FAIL {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    except TimeoutError:
        print("[smoke] FAIL timed out", file=sys.stderr, flush=True)
        return 1
    print("[smoke] passed", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
