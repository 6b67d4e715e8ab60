"""The one settings object: defaults in code, then a TOML file, then environment variables.

Each component owns its sections, next to its code (``collector/config.py``,
``analytics/config.py``, ``analytics/alerting/config.py``, ``dashboard/config.py``);
this module only assembles them, adding the server's own section.

Precedence, lowest first: the defaults below, the file named by ``--config`` or
``TIERWATCH_CONFIG``, environment variables (``TIERWATCH_<SECTION>__<KEY>``, plus the
fixed ``TIERWATCH_DATABASE_URL``), and finally command-line flags such as ``--db``.
"""

from __future__ import annotations

import inspect
import os
import tomllib
from inspect import cleandoc
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, Field, RootModel, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from analytics.alerting.config import AlertsSettings
from analytics.config import AnalyticsSettings, CostSettings, Objective, Objectives
from collector.config import CollectorSettings, DatabaseSettings, PrivacySettings, Section
from dashboard.config import DashboardSettings

__all__ = ["ServerSettings", "Settings", "SettingsError", "load_settings", "reference"]


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
    prune_interval_seconds: float = Field(
        default=600.0,
        ge=0,
        description="How often the server deletes what is past its retention (one replica at "
        "a time; see the *_retention_days keys); 0 turns it off, raw attempts included.",
    )


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
    costs: CostSettings = Field(default_factory=CostSettings)
    objectives: Objectives = Field(
        default_factory=list,
        description="Objectives with error budgets, one [[objectives]] table each.",
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
        except IsADirectoryError as exc:
            raise SettingsError(
                f"configuration file {path} is a directory; name a TOML file"
            ) from exc
        except PermissionError as exc:
            raise SettingsError(
                f"configuration file {path} cannot be read (permission denied); "
                "check who owns it and its mode"
            ) from exc
        except UnicodeDecodeError as exc:
            raise SettingsError(
                f"configuration file {path} is not text (not UTF-8); name a TOML file"
            ) from exc
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
        "Generated by `python -m tierwatch.settings` from the sections `tierwatch/settings.py`",
        "assembles (each component's own are in its `config.py`); a test keeps it current.",
        "",
        "Precedence, lowest first: defaults, the TOML file (`--config FILE` or",
        "`TIERWATCH_CONFIG`), environment variables `TIERWATCH_<SECTION>__<KEY>` (for example",
        "`TIERWATCH_COLLECTOR__MAX_BODY_BYTES=1048576`; the database URL also as",
        "`TIERWATCH_DATABASE_URL`), then command-line flags.",
        "",
    ]
    for name, field in Settings.model_fields.items():
        if name == "objectives":
            lines += _entries_reference(name, Objective)
            continue
        section = field.annotation
        assert isinstance(section, type) and issubclass(section, BaseModel)
        if issubclass(section, RootModel):
            # A list of tables, [[name]]: the list's rules, then each entry's keys.
            (entry,) = get_args(section.model_fields["root"].annotation)
            lines += [f"## [[{name}]]", "", cleandoc(section.__doc__ or ""), ""]
            lines += [cleandoc(entry.__doc__ or ""), ""]
            lines += ["| key | default | meaning |", "| --- | --- | --- |"]
            for key, info in entry.model_fields.items():
                default = "required" if info.is_required() else f"`{info.get_default()!r}`"
                lines.append(f"| `{key}` | {default} | {info.description or ''} |")
            lines.append("")
            continue
        lines += [f"## [{name}]", "", (section.__doc__ or "").strip(), ""]
        lines += ["| key | default | meaning |", "| --- | --- | --- |"]
        defaults = section()
        for key, info in section.model_fields.items():
            default = getattr(defaults, key)
            lines.append(f"| `{key}` | `{default!r}` | {info.description or ''} |")
        lines.append("")
    return "\n".join(lines)


def _entries_reference(name: str, entry: type[BaseModel]) -> list[str]:
    """The reference of a list of tables (``[[name]]``): each key, required or its default."""
    lines = [f"## [[{name}]]", "", inspect.cleandoc(entry.__doc__ or ""), ""]
    lines += ["| key | default | meaning |", "| --- | --- | --- |"]
    for key, info in entry.model_fields.items():
        default = (
            "required"
            if info.is_required()
            else f"`{info.get_default(call_default_factory=True)!r}`"
        )
        lines.append(f"| `{key}` | {default} | {info.description or ''} |")
    lines.append("")
    return lines


if __name__ == "__main__":  # pragma: no cover
    print(reference(), end="")
