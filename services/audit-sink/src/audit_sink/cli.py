"""`zephyr-audit`: the analysts' tool. Replays the audit stream; exports audit_log.

    zephyr-audit tail --from 2026-11-01T00:00Z [--limit N] [--idle SECONDS] [--kind PREFIX]
    zephyr-audit export --since 2026-11-01 [--until ...] --format jsonl|csv [--output FILE]

`tail` reads the RabbitMQ stream `audit.stream` from `first`, `last`, `next`, an offset or a
time and prints one JSON object per line; it stops after `--limit` events, after `--idle`
seconds without one, or on Ctrl-C (without `--idle` it follows the stream). `export` reads
`audit_log` page by page in (occurred_at, event_id) order and reports its progress on stderr.
URLs come from `--amqp-url`/`--database-url`, else `AUDIT_SINK_*` / `ZEPHYR_*` as for the service.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO, cast

import asyncpg

from audit_sink.export import count_events, csv_header, csv_lines, event_pages, jsonl_lines
from audit_sink.stream import StreamOffset, parse_offset, read_audit_stream
from contracts import AuditEvent


class CliError(Exception):
    """A failure to report in one line (exit status 1), never as a traceback."""


def parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_stream_offset(text: str) -> StreamOffset:
    try:
        return parse_offset(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zephyr-audit", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    tail = commands.add_parser("tail", help="replay the audit stream as JSON lines")
    tail.add_argument(
        "--from",
        dest="offset",
        type=parse_stream_offset,
        default="first",
        help="first, last, next, an offset (integer) or an ISO time (default: first)",
    )
    tail.add_argument("--limit", type=int, default=None, help="stop after this many events")
    tail.add_argument(
        "--idle", type=float, default=None, help="stop after this many seconds without an event"
    )
    tail.add_argument("--kind", default=None, help="only kinds starting with this, e.g. vote.")
    tail.add_argument("--poll", default=None, help="only this poll id")
    tail.add_argument("--amqp-url", default=None)

    export = commands.add_parser("export", help="export audit_log as JSON lines or CSV")
    export.add_argument("--since", type=parse_time, required=True, help="ISO time, inclusive")
    export.add_argument("--until", type=parse_time, default=None, help="ISO time, exclusive")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--output", type=Path, default=None, help="file (default: stdout)")
    export.add_argument("--page-size", type=int, default=5000)
    export.add_argument("--quiet", action="store_true", help="no progress on stderr")
    export.add_argument("--database-url", default=None)
    return parser


def _settings_url(field: str) -> str:
    from audit_sink.settings import Settings
    from zephyr_runtime.settings import load_settings

    return str(getattr(load_settings(Settings), field))


async def tail(args: argparse.Namespace, out: TextIO) -> int:
    amqp_url = args.amqp_url or _settings_url("amqp_url")
    shown = 0
    try:
        # An async generator: aclosing closes the stream consumer when we stop early.
        stream = cast(
            AsyncGenerator[AuditEvent, None],
            read_audit_stream(amqp_url, args.offset, idle_timeout=args.idle),
        )
        async with contextlib.aclosing(stream) as events:
            async for event in events:
                if args.kind and not event.kind.startswith(args.kind):
                    continue
                if args.poll and str(event.poll_id) != args.poll:
                    continue
                out.write(event.model_dump_json() + "\n")
                out.flush()
                shown += 1
                if args.limit is not None and shown >= args.limit:
                    break
    except (OSError, ConnectionError) as exc:
        raise CliError(f"cannot read the audit stream: {type(exc).__name__}: {exc}") from exc
    return shown


class Progress:
    """A plain counter on stderr, at most once a second, and once at the end."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.done = 0
        self.enabled = enabled
        self._last = 0.0

    def advance(self, rows: int, final: bool = False) -> None:
        self.done += rows
        now = time.monotonic()
        if self.enabled and (final or now - self._last >= 1.0):
            self._last = now
            share = 100.0 * self.done / self.total if self.total else 100.0
            print(f"exported {self.done}/{self.total} events ({share:.0f}%)", file=sys.stderr)


async def export(args: argparse.Namespace, out: TextIO) -> int:
    database_url = args.database_url or _settings_url("database_url")
    try:
        conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    except (OSError, asyncpg.PostgresError) as exc:
        raise CliError(f"cannot connect to PostgreSQL: {type(exc).__name__}: {exc}") from exc
    try:
        # One snapshot for the count and every page: a consistent export of a moving table.
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            progress = Progress(await count_events(conn, args.since, args.until), not args.quiet)
            if args.format == "csv":
                out.write(csv_header())
            async for rows in event_pages(conn, args.since, args.until, args.page_size):
                out.write(jsonl_lines(rows) if args.format == "jsonl" else csv_lines(rows))
                progress.advance(len(rows))
            progress.advance(0, final=True)
    finally:
        await conn.close()
    return progress.done


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "tail":
            asyncio.run(tail(args, sys.stdout))
        elif args.output is None:
            asyncio.run(export(args, sys.stdout))
        else:
            newline = "" if args.format == "csv" else None  # csv writes its own \r\n
            with args.output.open("w", encoding="utf-8", newline=newline) as out:
                asyncio.run(export(args, out))
    except CliError as exc:
        print(f"zephyr-audit: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except BrokenPipeError:  # `zephyr-audit tail | head`
        raise SystemExit(0) from None


if __name__ == "__main__":
    main()
