"""OpenTelemetry tracing, the same way in every service.

`setup_tracing()` installs a tracer provider with the exporter chosen by `ZEPHYR_OTEL_EXPORTER`
(`none` by default: spans are created, nothing leaves the process), `console`, `file` (JSON
lines, one file per process) or `otlp` (OTLP over HTTP to `ZEPHYR_OTEL_ENDPOINT`).

W3C trace context travels in AMQP headers (`traceparent`, `tracestate`):
`current_trace_headers()` injects the current span's context (ConfirmedPublisher does this by
itself), `extract_context(headers)` reads it back on the consuming side, and `span()` starts
a span as a child of that context, with links to further messages when one span covers many.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import orjson
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

log = logging.getLogger(__name__)

Exporter = Literal["none", "console", "file", "otlp"]
TRACER_NAME = "zephyr"
_PROPAGATOR = TraceContextTextMapPropagator()

__all__ = [
    "Exporter",
    "JsonLinesSpanExporter",
    "SpanKind",
    "current_trace_headers",
    "extract_context",
    "setup_tracing",
    "span",
    "span_context_of",
]


class JsonLinesSpanExporter(SpanExporter):
    """Writes each finished span as one JSON line (for development, tests and log shippers)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = b"".join(orjson.dumps(span_record(s)) + b"\n" for s in spans)
        try:
            with self._lock, self._path.open("ab") as out:
                out.write(lines)
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """A finished span as plain data: ids in hex, times in ns since the epoch."""
    ctx = span.get_span_context()
    parent = span.parent
    return {
        "trace_id": f"{ctx.trace_id:032x}" if ctx else None,
        "span_id": f"{ctx.span_id:016x}" if ctx else None,
        "parent_span_id": f"{parent.span_id:016x}" if parent else None,
        "name": span.name,
        "kind": span.kind.name,
        "service": span.resource.attributes.get("service.name"),
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
        "links": [
            {"trace_id": f"{link.context.trace_id:032x}", "span_id": f"{link.context.span_id:016x}"}
            for link in span.links
        ],
    }


def _exporter(kind: Exporter, endpoint: str | None, service: str) -> SpanExporter | None:
    if kind == "console":
        return ConsoleSpanExporter(service_name=service)
    if kind == "file":
        # One file per process: several processes never interleave partial lines.
        target = Path(endpoint or "traces")
        if target.suffix != ".jsonl":
            target.mkdir(parents=True, exist_ok=True)
            target = target / f"{service}-{os.getpid()}.jsonl"
        return JsonLinesSpanExporter(target)
    if kind == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # Without an endpoint the exporter reads OTEL_EXPORTER_OTLP_* (default localhost:4318).
        return OTLPSpanExporter(endpoint=endpoint) if endpoint else OTLPSpanExporter()
    return None


def setup_tracing(
    service: str,
    *,
    exporter: Exporter = "none",
    endpoint: str | None = None,
    instance_id: str | None = None,
) -> TracerProvider:
    """Install the process's tracer provider (call once, at start-up, after logging)."""
    attributes: dict[str, str] = {"service.name": service}
    if instance_id:
        attributes["service.instance.id"] = instance_id
    provider = TracerProvider(resource=Resource.create(attributes))
    span_exporter = _exporter(exporter, endpoint, service)
    if span_exporter is not None:
        # Batching keeps exporting off the event loop's hot path; flushed at exit.
        provider.add_span_processor(BatchSpanProcessor(span_exporter, schedule_delay_millis=1000))
    trace.set_tracer_provider(provider)
    if exporter != "none":
        log.info("tracing enabled", extra={"exporter": exporter, "endpoint": endpoint})
    return provider


def _as_text_headers(headers: Mapping[str, Any] | None) -> dict[str, str]:
    """AMQP header values may arrive as bytes; the propagator wants text."""
    text: dict[str, str] = {}
    for key, value in (headers or {}).items():
        if isinstance(value, bytes):
            value = value.decode(errors="replace")
        if isinstance(value, str):
            text[key.lower()] = value
    return text


def current_trace_headers() -> dict[str, str]:
    """`traceparent` (and `tracestate`) of the current span; empty when there is none."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier


def extract_context(headers: Mapping[str, Any] | None) -> otel_context.Context:
    """The remote context carried by a message's or request's headers (empty if none)."""
    return _PROPAGATOR.extract(_as_text_headers(headers))


def span_context_of(headers: Mapping[str, Any] | None) -> trace.SpanContext | None:
    """The remote span context in `headers`, if valid (for links)."""
    ctx = trace.get_current_span(extract_context(headers)).get_span_context()
    return ctx if ctx.is_valid else None


@contextlib.contextmanager
def span(
    name: str,
    *,
    parent_headers: Mapping[str, Any] | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    links: Sequence[Mapping[str, Any] | None] = (),
    attributes: Mapping[str, str | int | float | bool] | None = None,
) -> Iterator[trace.Span]:
    """A current span; a child of `parent_headers`' context when given, else of the current one.

    `links` are further messages' headers this span also covers (a batch of many messages).
    """
    parent = extract_context(parent_headers) if parent_headers is not None else None
    span_links = [Link(ctx) for ctx in (span_context_of(h) for h in links) if ctx is not None]
    tracer = trace.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(
        name, context=parent, kind=kind, links=span_links, attributes=attributes
    ) as current:
        yield current
