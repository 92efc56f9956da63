"""Shipping JSON log lines to a collector over TCP, without ever hurting the service.

The local stderr handler always gets every line; shipping is an extra copy. Records go through a
queue to a background thread (logging never blocks the event loop on the network), and a
collector that is down, slow or refusing only costs the copies that could not be sent: the
handler reconnects with backoff (`logging.handlers.SocketHandler`) and never raises.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import queue
from urllib.parse import urlsplit

# Lines waiting for the network; beyond this they are dropped (stderr still has them).
MAX_QUEUED_RECORDS = 10_000


class JsonLinesSocketHandler(logging.handlers.SocketHandler):
    """Sends each formatted record as one line of text (what Vector, Fluent Bit and Logstash's
    `tcp` inputs read), instead of SocketHandler's pickles."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port)
        self.retryMax = 10.0  # seconds between reconnect attempts, at most
        self.failures = 0

    def makePickle(self, record: logging.LogRecord) -> bytes:
        return self.format(record).encode("utf-8", errors="replace") + b"\n"

    def handleError(self, record: logging.LogRecord) -> None:
        # The collector failed: drop this copy quietly (stderr has the line) and reconnect later.
        self.failures += 1
        self.closeOnError = True
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class _DroppingQueueHandler(logging.handlers.QueueHandler):
    """Never blocks and never raises: a full queue drops the shipped copy.

    QueueHandler formats the record in the caller's thread (`prepare`), which matters: the
    correlation and trace ids live in context variables the sending thread cannot see.
    """

    def enqueue(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(queue.Full):
            self.queue.put_nowait(record)


def parse_ship_url(url: str) -> tuple[str, int]:
    """`tcp://host:port` -> (host, port); ValueError otherwise."""
    parts = urlsplit(url)
    if parts.scheme != "tcp" or not parts.hostname or not parts.port:
        raise ValueError(f"log shipping URL must look like tcp://host:port, got {url!r}")
    return parts.hostname, parts.port


class LogShipper:
    """A handler for the root logger plus the thread that sends its records."""

    def __init__(self, url: str, formatter: logging.Formatter) -> None:
        host, port = parse_ship_url(url)
        self.sender = JsonLinesSocketHandler(host, port)
        # The queue handler formats the record into its message, in the caller's context;
        # the sender then only has to send that text.
        self.sender.setFormatter(logging.Formatter("%(message)s"))
        records: queue.Queue[logging.LogRecord] = queue.Queue(MAX_QUEUED_RECORDS)
        self.handler = _DroppingQueueHandler(records)
        self.handler.setFormatter(formatter)
        self.listener = logging.handlers.QueueListener(records, self.sender)
        self.listener.start()

    def stop(self) -> None:
        self.listener.stop()
        self.sender.close()
