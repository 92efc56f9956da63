"""The baseline of the `broadcast` scenario: a bare `websockets` server and `broadcast()`.

`python -m bench.bare_server --port P` accepts WebSockets as the gateway does (compression off,
on uvloop when installed). A client's first frame decides what it is: `join` makes it a
receiver (answered with `{"type": "joined"}`); `fire {frame}` makes it the controller: each
`fire` hands `frame` to every receiver with one `broadcast()` call and answers `fired`. Nothing
else happens in the process, so the time from `fire` to the last receiver is the floor any
fan-out on this machine can reach.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

import orjson
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

from bench.limits import raise_open_files

RECEIVERS: set[ServerConnection] = set()


async def handler(ws: ServerConnection) -> None:
    first = orjson.loads(await ws.recv())
    if first.get("type") == "join":
        RECEIVERS.add(ws)
        try:
            await ws.send('{"type":"joined"}')
            await ws.wait_closed()
        finally:
            RECEIVERS.discard(ws)
        return
    message = first
    with contextlib.suppress(ConnectionClosed):  # the controller is done
        while message.get("type") == "fire":
            broadcast(RECEIVERS, message["frame"])
            await ws.send(orjson.dumps({"type": "fired", "receivers": len(RECEIVERS)}).decode())
            message = orjson.loads(await ws.recv())


async def main(port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(handler, "127.0.0.1", port, compression=None, max_size=2**16):
        await stop


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    raise_open_files()
    try:
        import uvloop
    except ImportError:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main(args.port))
        return
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(main(args.port))


if __name__ == "__main__":
    run()
