"""Settings shared by every Tandem service.

Each service declares one settings class deriving from :class:`ServiceSettings` (pydantic-settings)
and composes the pieces it needs (:class:`DatabaseSettings`, :class:`NatsSettings`,
:class:`HttpSettings`). Values come from, in order of precedence:

1. keyword arguments (tests),
2. environment variables with the ``TANDEM_`` prefix (nested pieces use ``__``:
   ``TANDEM_DATABASE__URL``),
3. ``<NAME>_FILE`` variables naming a file whose content is the value (Kubernetes secrets,
   Docker secrets), e.g. ``TANDEM_TOKEN_SECRET_FILE=/run/secrets/token``,
4. the defaults below, which suit the embedded platform.

Secrets are :class:`pydantic.SecretStr`, so they never appear in a repr or a log line, and outside
``environment=development``/``test`` a placeholder secret (empty, ``changeme``, ``secret``…) is
refused at start-up: a production switch must not run on a well-known key.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

__all__ = [
    "PLACEHOLDER_SECRETS",
    "ConfigError",
    "DatabaseSettings",
    "Environment",
    "HttpSettings",
    "IdentitySettings",
    "NatsSettings",
    "ServiceSettings",
    "load_file_secrets",
]

#: Values that are never a real secret. Compared case-insensitively after stripping.
PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "change_me", "secret", "password", "default", "tandem", "xxx"}
)


class ConfigError(Exception):
    """The configuration cannot be used (missing, unreadable or placeholder values)."""


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class DatabaseSettings(BaseModel):
    """Where the SQL source of truth lives."""

    #: SQLAlchemy URL; ``sqlite+aiosqlite:///path`` (embedded) or
    #: ``postgresql+asyncpg://user:pass@host/db`` (production).
    url: SecretStr = SecretStr("sqlite+aiosqlite:///./data/tandem.db")
    pool_size: int = Field(10, ge=1, le=200)
    echo: bool = False


class NatsSettings(BaseModel):
    """How to reach the NATS bus."""

    servers: list[str] = ["nats://127.0.0.1:14222"]
    connect_timeout: float = Field(2.0, gt=0)
    request_timeout: float = Field(2.0, gt=0)
    #: Path to a NATS credentials file (production); never logged.
    credentials_file: Path | None = None
    tls_ca_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None


class HttpSettings(BaseModel):
    """The HTTP listener of a service (API, or health/metrics for SIP and media nodes)."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    #: Addresses (CIDR) of reverse proxies whose X-Forwarded-* headers are believed.
    trusted_proxies: list[str] = []


class IdentitySettings(BaseModel):
    """Secrets and costs of the login-bearing APIs (switch_api, customer_api).

    The three key rings are ``"id:base64,older-id:base64"`` specs (the first entry is current;
    older ones stay readable for rotation), kept outside the database: set them with
    ``TANDEM_IDENTITY__PEPPERS`` or, better, ``TANDEM_IDENTITY__PEPPERS_FILE=/run/secrets/…``.
    ``tandem up`` generates them once into ``<data-dir>/secrets/``. ``openssl rand -base64 32``
    makes a suitable secret.
    """

    #: Password peppers (HMAC keys applied before Argon2id); never stored in the database.
    peppers: SecretStr = SecretStr("")
    #: AES-256-GCM keys that encrypt TOTP secrets at rest (exactly 32 bytes each).
    encryption_keys: SecretStr = SecretStr("")
    #: HMAC-SHA256 keys that sign access tokens (shared by switch_api and customer_api).
    signing_keys: SecretStr = SecretStr("")
    #: Argon2id cost (RFC 9106 §4 second option by default); raise it, never lower it.
    argon2_time_cost: int = Field(3, ge=1, le=64)
    argon2_memory_kib: int = Field(64 * 1024, ge=8, le=4 * 1024 * 1024)
    argon2_parallelism: int = Field(4, ge=1, le=64)
    #: Lifetime of an access token (seconds): short, so a stolen one is soon useless.
    access_token_ttl: int = Field(900, ge=60, le=3600)
    #: Lifetime of a login session and its rotating refresh tokens (seconds).
    refresh_token_ttl: int = Field(30 * 86400, ge=600, le=365 * 86400)
    #: Issuer shown by authenticator apps next to the account name.
    totp_issuer: str = Field("Tandem", min_length=1, max_length=64)


def _declares(model: type[BaseModel], path: list[str]) -> bool:
    """Whether ``model`` has the (nested) field ``path``, e.g. ``["database", "url"]``."""
    current: Any = model
    for part in path:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return False
        field = current.model_fields.get(part)
        if field is None:
            return False
        current = field.annotation
    return True


def load_file_secrets(
    prefix: str, model: type[BaseModel], environ: dict[str, str] | None = None
) -> dict[str, Any]:
    """Return ``{field: value}`` for every ``<prefix><FIELD>_FILE`` variable naming a field.

    The file's content (trailing newline stripped) becomes the value of ``<field>``; nested
    fields use ``__`` as in the environment (``TANDEM_DATABASE__URL_FILE``). Only fields
    ``model`` declares count, so a setting that is itself a path (``TANDEM_NATS__TLS_KEY_FILE``)
    is never read as a secret file.
    """
    environ = dict(os.environ) if environ is None else environ
    values: dict[str, Any] = {}
    for name, path in environ.items():
        if not (name.startswith(prefix) and name.endswith("_FILE")) or not path:
            continue
        key = name[len(prefix) : -len("_FILE")].lower()
        if not _declares(model, key.split("__")):
            continue
        try:
            content = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(
                f"{name} names {path!r}, which cannot be read: {exc.strerror}"
            ) from None
        target = values
        *parents, leaf = key.split("__")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = content
    return values


class _FileSecretsSource(PydanticBaseSettingsSource):
    """Settings source for ``TANDEM_*_FILE`` variables (lower precedence than plain variables)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # pragma: no cover - __call__ does the work

    def __call__(self) -> dict[str, Any]:
        prefix = self.config.get("env_prefix", "")
        return load_file_secrets(str(prefix), self.settings_cls)


class ServiceSettings(BaseSettings):
    """Base of every service's settings: environment, logging, node identity, database, bus."""

    model_config = SettingsConfigDict(
        env_prefix="TANDEM_",
        env_nested_delimiter="__",
        extra="ignore",
        validate_default=True,
    )

    #: Names of SecretStr fields (possibly nested, dotted) that must not be placeholders.
    required_secrets: ClassVar[tuple[str, ...]] = ()

    environment: Environment = Environment.DEVELOPMENT
    log_level: str = "INFO"
    #: ``json`` for machines (production), ``console`` for people; ``auto`` picks by environment.
    log_format: str = "auto"
    node_id: str = Field(default_factory=lambda: os.uname().nodename)
    zone: str = "default"
    database: DatabaseSettings = DatabaseSettings()
    nats: NatsSettings = NatsSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _FileSecretsSource(settings_cls), file_secret_settings)

    @property
    def is_development(self) -> bool:
        return self.environment in (Environment.DEVELOPMENT, Environment.TEST)

    @property
    def json_logs(self) -> bool:
        if self.log_format == "auto":
            return not self.is_development
        return self.log_format == "json"

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Self:
        if self.is_development:
            return self
        weak = [name for name in self.required_secrets if _is_placeholder(self._lookup(name))]
        if weak:
            raise ValueError(
                f"placeholder or empty secret(s) {', '.join(weak)} refused in environment "
                f"{self.environment.value!r}: set real values (TANDEM_<NAME> or TANDEM_<NAME>_FILE)"
            )
        return self

    def _lookup(self, dotted: str) -> Any:
        value: Any = self
        for part in dotted.split("."):
            value = getattr(value, part)
        return value


def _is_placeholder(value: Any) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value is None or str(value).strip().lower() in PLACEHOLDER_SECRETS
