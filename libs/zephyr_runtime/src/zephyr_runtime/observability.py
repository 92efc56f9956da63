"""One call at start-up gives a service its logs, run-time log level, log shipping and traces."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from zephyr_runtime.jsonlog import JsonFormatter, configure_logging
from zephyr_runtime.loglevel import LogLevelWatcher, level_file
from zephyr_runtime.logship import LogShipper
from zephyr_runtime.settings import ServiceSettings
from zephyr_runtime.tracing import setup_tracing


@dataclass
class Observability:
    """What `setup_observability` started, so that tests and shutdown can stop it."""

    watcher: LogLevelWatcher | None = None
    shipper: LogShipper | None = None

    def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        if self.shipper is not None:
            logging.getLogger().removeHandler(self.shipper.handler)
            self.shipper.stop()


def setup_observability(service: str, settings: ServiceSettings) -> Observability:
    """JSON logs to stderr (always), optionally shipped over TCP; the level file watched;
    the tracer provider installed with the configured exporter."""
    configure_logging(service, settings.log_level)
    started = Observability()
    if settings.log_ship_url:
        started.shipper = LogShipper(settings.log_ship_url, JsonFormatter(service))
        logging.getLogger().addHandler(started.shipper.handler)
    path = level_file(str(type(settings).model_config.get("env_prefix", "")))
    if path is not None:
        started.watcher = LogLevelWatcher(path).start()
    setup_tracing(
        service,
        exporter=settings.otel_exporter,
        endpoint=settings.otel_endpoint,
        instance_id=settings.instance_id,
    )
    return started
