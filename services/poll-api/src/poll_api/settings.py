"""poll-api's settings: the shared and edge fields (zephyr_runtime.settings) plus its own.

Every field reads `POLL_API_<FIELD>`, then `ZEPHYR_<FIELD>`; `<FIELD>_FILE` reads a secret from a
file (`POLL_API_HOST_API_KEYS_FILE`). Lists are comma-separated. Rates are "<limit>/<period>",
e.g. "600/1m", checked at start-up by `EdgeSettings`, like the CORS origins and the trusted
proxies (see docs/security.md).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from poll_api.accounts.tokens import KeyRing
from poll_api.host_accounts import parse_host_keys
from zephyr_runtime.origins import split_list
from zephyr_runtime.settings import DEV_SECRET, EdgeSettings, FileSecretsSource, require_secret

# Fields whose `*_FILE` may name a missing file, read as unset: Kubernetes mounts an optional
# Secret key that is absent as no file at all (infra/k8s/base/poll-api.yaml).
OPTIONAL_FILES = frozenset({"read_database_url"})


class _OptionalFileSecrets(FileSecretsSource):
    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        try:
            return super().get_field_value(field, field_name)
        except FileNotFoundError:
            if field_name not in OPTIONAL_FILES:
                raise
            return None, field_name, False


class Settings(EdgeSettings):
    """Read from `POLL_API_<FIELD>`, then `ZEPHYR_<FIELD>`; `<NAME>_FILE` for secrets."""

    model_config = SettingsConfigDict(env_prefix="POLL_API_", extra="ignore", validate_default=True)

    # Rate limits, in Redis, shared by every replica. Per-IP limits are generous because a
    # whole conference may sit behind one NAT address; per-room limits are tight.
    rate_limit_ip: str = Field(
        default="12000/1m", description="every /api request from one IP (limit/period)"
    )
    rate_limit_create_ip: str = Field(
        default="120/1m", description="POST /api/polls from one IP (limit/period)"
    )
    rate_limit_read_ip: str = Field(
        default="6000/1m", description="GET a poll or its results from one IP (limit/period)"
    )
    rate_limit_host_action_ip: str = Field(
        default="600/1m", description="open/close/reveal/reset from one IP (limit/period)"
    )
    rate_limit_host_action_room: str = Field(
        default="60/1m", description="open/close/reveal/reset of one poll (limit/period)"
    )
    max_body_bytes: int = Field(default=32_768, ge=1024, le=10_485_760)
    max_concurrent_requests: int = Field(
        default=256, ge=1, description="Requests in progress per process; beyond: 503."
    )
    cors_allow_origins: str = Field(default="", description="Origins allowed by CORS (no '*')")
    served_over_tls: bool = Field(
        default=False, description="Behind a TLS-terminating proxy: send HSTS."
    )
    hsts_max_age_seconds: int = Field(default=31_536_000, ge=0)
    csp_connect_src: str = Field(
        default="", description="Extra CSP connect-src sources, e.g. the gateway's wss:// origin"
    )
    host_auth_enabled: bool = Field(
        default=False, description="Creating a poll needs Authorization: Bearer <host API key>."
    )
    host_api_keys: str = Field(default="", repr=False, description="Comma/newline-separated")

    # Host accounts (poll_api.accounts; docs/security.md, "Host accounts")
    jwt_keys: str = Field(
        default=f"dev:{DEV_SECRET}-signs-access-tokens",
        repr=False,
        description="Access-token keys, `kid:secret` entries (comma/newline); the first signs",
    )
    access_token_seconds: int = Field(
        default=900, ge=60, le=86_400, description="Lifetime of an access token"
    )
    refresh_token_days: int = Field(
        default=30, ge=1, le=365, description="Lifetime of a refresh token (each refresh renews)"
    )
    rate_limit_login_ip: str = Field(
        default="30/1m", description="sign-in and sign-up attempts from one IP (limit/period)"
    )
    rate_limit_login_account: str = Field(
        default="5/1m", description="sign-in attempts for one e-mail (limit/period)"
    )

    default_expiry_days: int = Field(default=30, ge=1, le=3650)
    # The gateway serves the participant page; the default is where `make run` puts it.
    public_base_url: str | None = Field(
        default="http://127.0.0.1:8001",
        description="Where participants join (the gateway's page), e.g. https://vote.example.org",
    )
    relay_enabled: bool = Field(
        default=True, description="Run the outbox relay in this process (replicas may share it)."
    )
    relay_batch_size: int = Field(default=200, ge=1, le=1000)
    relay_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    relay_max_backoff_seconds: float = Field(default=5.0, gt=0, le=300)
    timer_enabled: bool = Field(
        default=True, description="Run the question timer in this process (replicas may share it)."
    )
    timer_max_sleep_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="The timer looks for new deadlines at least this often.",
    )
    reconcile_interval_seconds: float = Field(default=2.0, gt=0, le=600)
    reconcile_window_hours: int = Field(default=24, ge=1, le=24 * 365)
    breaker_failures: int = Field(default=3, ge=1, le=100)
    breaker_reset_seconds: float = Field(default=2.0, gt=0, le=300)
    redis_timeout_seconds: float = Field(
        default=1.0, gt=0, le=30, description="Redis socket and connect timeout."
    )
    db_pool_size: int = Field(default=10, ge=1, le=200)

    # Read replica (docs/reliability.md, "Read replica")
    read_database_url: str | None = Field(
        default=None,
        repr=False,
        description="PostgreSQL URL of a streaming replica for results, exports and public "
        "views; unset: every read goes to database_url.",
    )
    read_replica_max_lag_seconds: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="Beyond this replication lag reads go to the primary until it catches up.",
    )
    read_replica_check_seconds: float = Field(
        default=1.0, gt=0, le=60, description="How often the replica's lag and health are read."
    )
    read_replica_timeout_seconds: float = Field(
        default=1.0,
        gt=0,
        le=30,
        description="Connect and statement timeout of each replica check; past it: down.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources = super().settings_customise_sources(
            settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
        )
        prefixes = (str(cls.model_config.get("env_prefix", "")), "ZEPHYR_")
        return tuple(
            _OptionalFileSecrets(settings_cls, prefixes)
            if isinstance(source, FileSecretsSource)
            else source
            for source in sources
        )

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("public_base_url must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("read_database_url")
    @classmethod
    def _read_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("read_database_url must start with postgresql://")
        return value

    @property
    def read_your_writes_seconds(self) -> float:
        """How long after a change a poll's reads stay on the primary: the replica then holds
        every commit older than the lag bound plus one check interval (docs/reliability.md)."""
        return self.read_replica_max_lag_seconds + self.read_replica_check_seconds + 1.0

    @model_validator(mode="after")
    def _host_keys(self) -> Settings:
        if self.host_auth_enabled and not parse_host_keys(self.host_api_keys):
            raise ValueError("host_auth_enabled needs host_api_keys (or HOST_API_KEYS_FILE)")
        return self

    @model_validator(mode="after")
    def _jwt_keys(self) -> Settings:
        ring = KeyRing.parse(self.jwt_keys)
        for kid, secret in ring.keys.items():
            if len(secret) < 32:
                raise ValueError(f"jwt_keys: the secret of key {kid!r} needs 32 characters or more")
            if secret.startswith(DEV_SECRET):
                require_secret(DEV_SECRET, "POLL_API_JWT_KEYS", self.environment)
        return self

    @property
    def key_ring(self) -> KeyRing:
        return KeyRing.parse(self.jwt_keys)

    @property
    def cors_origins(self) -> list[str]:
        return split_list(self.cors_allow_origins)

    @property
    def connect_sources(self) -> list[str]:
        return split_list(self.csp_connect_src)

    def join_url(self, room_code: str) -> str | None:
        """The link a host shares with participants, when a public base URL is configured."""
        if self.public_base_url is None:
            return None
        return f"{self.public_base_url}/join/{room_code}"
