"""The one settings object: defaults in code, then a TOML file, then environment variables.

Precedence, lowest first: the defaults below, the file named by ``--config`` or
``TIERWATCH_CONFIG``, environment variables (``TIERWATCH_<SECTION>__<KEY>``, plus the
fixed ``TIERWATCH_DATABASE_URL``), and finally command-line flags such as ``--db``.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from analytics.alerting.config import AlertsSettings
from analytics.config import AnalyticsSettings
from collector.schema import TIERS
from dashboard.config import DashboardSettings
from tierwatch.section import Section

__all__ = ["AnalyticsSettings", "Section", "Settings", "SettingsError", "load_settings"]

DEFAULT_DATABASE_URL = "sqlite:///./tierwatch.db"


class DatabaseSettings(Section):
    """Where attempts and rollups are stored."""

    url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: sqlite:///... or postgresql://...",
    )
    pool_size: int = Field(default=8, ge=1, description="Connections kept open to PostgreSQL.")
    busy_timeout_ms: int = Field(
        default=5000,
        ge=0,
        description="How long a SQLite writer waits for the lock before the collector answers 503.",
    )


class ServerSettings(Section):
    """The HTTP server."""

    host: str = Field(default="0.0.0.0", description="Address to bind; --dev forces 127.0.0.1.")
    port: int = Field(
        default=4318, ge=1, le=65535, description="Port; 4318 is the OTLP/HTTP default."
    )
    dev: bool = Field(
        default=False, description="Turn authentication off and bind to 127.0.0.1 only."
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Server processes sharing the port (the collector is stateless).",
    )
    public_url: str = Field(default="", description="Base URL used in links sent to operators.")


class CollectorSettings(Section):
    """The write side: limits and what is kept."""

    max_body_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="Largest request body after decompression (413 above).",
    )
    max_concurrent_requests: int = Field(
        default=4,
        ge=1,
        description="Export requests processed at once; the rest wait in a bounded queue.",
    )
    max_queued_requests: int = Field(
        default=64,
        ge=0,
        description="Export requests allowed to wait; beyond that the collector answers 503.",
    )
    queue_timeout_seconds: float = Field(
        default=10.0, gt=0, description="How long a queued request waits before it is answered 503."
    )
    retry_after_seconds: int = Field(
        default=2, ge=1, description="Retry-After sent with 429 and 503 answers."
    )
    max_future_skew_seconds: int = Field(
        default=600,
        ge=0,
        description="Spans starting further in the future than this are rejected.",
    )
    attribute_allowlist: list[str] = Field(
        default_factory=list,
        description="Extra span or resource attribute keys to keep, in the extra column.",
    )
    ingest_workers: int = Field(
        default=0,
        ge=0,
        le=64,
        description=(
            "Processes that decode, validate and store export requests; 0 does it in "
            "threads of the server process. Set it to the number of cores for throughput."
        ),
    )
    retention_days: int = Field(
        default=30, ge=1, description="Raw attempts older than this are deleted; rollups stay."
    )


class PrivacySettings(Section):
    """Which tiers may run inference on data marked sensitive."""

    sensitive_allowed_tiers: list[str] = Field(
        default_factory=lambda: ["device"],
        description="Default policy: tiers allowed for hybrid.privacy=sensitive.",
    )
    fleets: dict[str, list[str]] = Field(
        default_factory=dict, description="Per-fleet override of sensitive_allowed_tiers."
    )

    @field_validator("sensitive_allowed_tiers")
    @classmethod
    def _known_tiers(cls, value: list[str]) -> list[str]:
        _check_tiers(value)
        return value

    @field_validator("fleets")
    @classmethod
    def _known_fleet_tiers(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for tiers in value.values():
            _check_tiers(tiers)
        return value

    def allowed_tiers(self, fleet: str) -> frozenset[str]:
        """The tiers that may see sensitive data in ``fleet``."""
        return frozenset(self.fleets.get(fleet, self.sensitive_allowed_tiers))


def _check_tiers(tiers: list[str]) -> None:
    unknown = [t for t in tiers if t not in TIERS]
    if unknown:
        raise ValueError(f"unknown tier {unknown[0]!r}; tiers are {', '.join(TIERS)}")


class Settings(BaseSettings):
    """Everything tierwatch can be told, one section per component."""

    model_config = SettingsConfigDict(
        env_prefix="TIERWATCH_",
        env_nested_delimiter="__",
        extra="forbid",
        nested_model_default_partial_update=True,
    )

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    collector: CollectorSettings = Field(default_factory=CollectorSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # init (file + flags, merged by load_settings) < env: flags are applied after.
        return (_DatabaseUrlEnv(settings_cls), env_settings, init_settings)


class _DatabaseUrlEnv(PydanticBaseSettingsSource):
    """Reads the fixed ``TIERWATCH_DATABASE_URL`` variable into ``database.url``."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        url = os.environ.get("TIERWATCH_DATABASE_URL")
        return {"database": {"url": url}} if url else {}


class SettingsError(Exception):
    """The configuration is invalid."""


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build the settings from code defaults, the TOML file, the environment and ``overrides``.

    ``overrides`` are dotted keys such as ``database.url`` (command-line flags); ``None``
    values are ignored so that an absent flag leaves the lower layers alone.
    """
    path = config_file or os.environ.get("TIERWATCH_CONFIG")
    file_values: dict[str, Any] = {}
    if path:
        try:
            file_values = tomllib.loads(Path(path).read_text())
        except FileNotFoundError as exc:
            raise SettingsError(f"configuration file {path} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"configuration file {path} is not valid TOML: {exc}") from exc
    try:
        settings = Settings(**file_values)
        for dotted, value in overrides.items():
            if value is None:
                continue
            name, key = dotted.split(".", 1)
            section = getattr(settings, name)
            updated = type(section).model_validate({**section.model_dump(), key: value})
            settings = settings.model_copy(update={name: updated})
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from exc
    return settings


def _describe(exc: ValidationError) -> str:
    """Turn a validation error into lines that name each bad key."""
    lines = []
    for error in exc.errors():
        key = ".".join(str(p) for p in error["loc"]) or "(root)"
        lines.append(f"invalid setting {key}: {error['msg']}")
    return "\n".join(lines)


def reference() -> str:
    """The configuration reference in Markdown, generated from the settings' descriptions."""
    lines = [
        "# Configuration reference",
        "",
        "Generated from `tierwatch/settings.py` by `python -m tierwatch.settings`;",
        "a test keeps it current.",
        "",
        "Precedence, lowest first: defaults, the TOML file (`--config FILE` or",
        "`TIERWATCH_CONFIG`), environment variables `TIERWATCH_<SECTION>__<KEY>` (for example",
        "`TIERWATCH_COLLECTOR__MAX_BODY_BYTES=1048576`; the database URL also as",
        "`TIERWATCH_DATABASE_URL`), then command-line flags.",
        "",
    ]
    for name, field in Settings.model_fields.items():
        section = field.annotation
        assert isinstance(section, type) and issubclass(section, BaseModel)
        lines += [f"## [{name}]", "", (section.__doc__ or "").strip(), ""]
        lines += ["| key | default | meaning |", "| --- | --- | --- |"]
        defaults = section()
        for key, info in section.model_fields.items():
            default = getattr(defaults, key)
            lines.append(f"| `{key}` | `{default!r}` | {info.description or ''} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(reference(), end="")
