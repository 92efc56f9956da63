"""One settings loader for every service: env prefix, ZEPHYR_ fallbacks, *_FILE secrets."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from zephyr_runtime.client_ip import Network, parse_networks
from zephyr_runtime.origins import check_origins, split_list
from zephyr_runtime.ratelimit import RateRule

DEV_SECRET = "dev-only-secret-change-me"  # noqa: S105 - refused outside development

S = TypeVar("S", bound="ServiceSettings")


class FileSecretsSource(PydanticBaseSettingsSource):
    """Reads `<PREFIX><FIELD>_FILE` (or `ZEPHYR_<FIELD>_FILE`): the value is the file's content."""

    def __init__(self, settings_cls: type[BaseSettings], prefixes: tuple[str, ...]) -> None:
        super().__init__(settings_cls)
        self._prefixes = prefixes

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        for prefix in self._prefixes:
            path = os.environ.get(f"{prefix}{field_name}_FILE".upper())
            if path:
                return Path(path).read_text(encoding="utf-8").strip(), field_name, False
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, info in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(info, name)
            if value is not None:
                values[key] = value
        return values


class ServiceSettings(BaseSettings):
    """Fields every service shares. Subclasses set `env_prefix`; `ZEPHYR_*` is the fallback."""

    model_config = SettingsConfigDict(extra="ignore", validate_default=True)

    environment: Literal["development", "test", "production"] = Field(
        default="development", description="production refuses development-only secrets."
    )
    amqp_url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672/",
        description="RabbitMQ URL (vhost in the path).",
    )
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/zephyr", description="PostgreSQL URL."
    )
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", description="Redis URL.")
    # Timeouts on every dependency (docs/reliability.md, "A hung dependency"): a server that
    # stops answering turns into a clear error or a retried message, never a hung request.
    db_statement_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=600,
        description="Longest a database statement runs (Postgres statement_timeout); the "
        "client gives up 1 s later on a server that stopped answering.",
    )
    db_acquire_timeout_seconds: float = Field(
        default=5.0, gt=0, le=120, description="Longest a wait for a pooled database connection."
    )
    db_connect_timeout_seconds: float = Field(
        default=5.0, gt=0, le=120, description="Longest a new database connection takes."
    )
    redis_timeout_seconds: float = Field(
        default=2.0, gt=0, le=30, description="Redis socket and connect timeout."
    )
    amqp_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="RabbitMQ connect, declare and publisher-confirm timeout.",
    )
    redis_prefix: str = Field(
        default="zephyr",
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="Every Redis key starts with it (one Redis can serve several deployments).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Level of the JSON logs on stderr."
    )
    log_ship_url: str | None = Field(
        default=None,
        pattern=r"^tcp://[^/:]+:\d+$",
        description="tcp://host:port of a log collector; stderr keeps every line regardless.",
    )
    otel_exporter: Literal["none", "console", "file", "otlp"] = Field(
        default="none", description="Where trace spans go (none: created, never exported)."
    )
    otel_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP URL for `otlp`, a directory or .jsonl path for `file`.",
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTP/WebSocket server binds.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port of the HTTP server.")
    shutdown_grace_seconds: float = Field(
        default=10.0, gt=0, le=300, description="How long SIGTERM waits for in-flight work."
    )
    metrics_sample_seconds: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="How often gauges of the outside world (dependencies, queues, pools) refresh.",
    )
    instance_id: str = Field(
        default_factory=lambda: f"{os.uname().nodename}-{os.getpid()}",
        description="Names this process in messages and logs (host-pid by default).",
    )

    @model_validator(mode="after")
    def _urls(self) -> ServiceSettings:
        if not self.amqp_url.startswith(("amqp://", "amqps://")):
            raise ValueError("amqp_url must start with amqp:// or amqps://")
        if not self.database_url.startswith(("postgresql://", "postgres://")):
            raise ValueError("database_url must start with postgresql://")
        if not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("redis_url must start with redis:// or rediss://")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        prefix = str(cls.model_config.get("env_prefix", ""))
        return (
            init_settings,
            env_settings,
            FileSecretsSource(settings_cls, (prefix, "ZEPHYR_")),
            EnvSettingsSource(settings_cls, env_prefix="ZEPHYR_"),
        )

    def asyncpg_dsn(self) -> str:
        """The DSN for asyncpg (which does not accept SQLAlchemy's `+driver` suffix)."""
        return self.database_url.replace("postgresql+asyncpg://", "postgresql://")

    @property
    def db_command_timeout_seconds(self) -> float:
        """The client's bound on one statement: the server's, plus a second to hear it."""
        return self.db_statement_timeout_seconds + 1.0

    def db_server_settings(self, application_name: str) -> dict[str, str]:
        """Session settings of every database connection of a service."""
        return {
            "application_name": application_name,
            "statement_timeout": str(int(self.db_statement_timeout_seconds * 1000)),
            # A transaction left open by a hung client holds its locks no longer than this.
            "idle_in_transaction_session_timeout": str(
                int(max(60.0, 4 * self.db_statement_timeout_seconds) * 1000)
            ),
        }


class EdgeSettings(ServiceSettings):
    """The fields of a service that faces clients: trusted proxies, origins and rate rules.

    Every field named `rate_limit_<name>` (except `rate_limit_enabled`) is a rate rule
    "<limit>/<period>" such as "600/1m" or "20/10s", checked at start-up and read with
    `rule(<name>)`. Every field ending in `_origins` is a comma-separated list of origins like
    `https://host[:port]` ('*' refused). `trusted_proxies` lists the networks whose
    X-Forwarded-For is believed (see `zephyr_runtime.client_ip`).
    """

    trusted_proxies: str = Field(
        default="",
        description="Networks whose X-Forwarded-For is believed, e.g. 10.0.0.0/8,127.0.0.1",
    )
    rate_limit_enabled: bool = Field(default=True, description="Apply the rate limits below.")
    security_event_window_seconds: float = Field(default=10.0, gt=0, le=3600)

    @field_validator("*")
    @classmethod
    def _edge_field(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.field_name or ""
        if not isinstance(value, str):
            return value
        if name.startswith("rate_limit_"):
            RateRule.parse(value)
        elif name.endswith("_origins"):
            check_origins(value)
        elif name == "trusted_proxies":
            parse_networks(split_list(value))
        return value

    @property
    def trusted_networks(self) -> tuple[Network, ...]:
        return parse_networks(split_list(self.trusted_proxies))

    def rule(self, name: str) -> RateRule:
        """The rate rule of the field `rate_limit_<name>`."""
        return RateRule.parse(str(getattr(self, f"rate_limit_{name}")))


def require_secret(value: str, name: str, environment: str) -> str:
    """Refuse the built-in development secret outside development and tests."""
    if environment == "production" and (value == DEV_SECRET or len(value) < 32):
        raise ValueError(f"{name} must be set to a random value of at least 32 characters")
    return value


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Build settings; on invalid configuration exit with a readable message, not a traceback."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        prefix = cls.model_config.get("env_prefix", "")
        lines = [f"invalid configuration for {cls.__module__.split('.')[0]}:"]
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "(settings)"
            lines.append(f"  {prefix}{field.upper()}: {err['msg']}")
        print("\n".join(lines), file=sys.stderr)
        raise SystemExit(2) from None
