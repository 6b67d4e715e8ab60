"""The collector's settings sections, and the base that every settings section builds on.

The base lives here, at the bottom of the package graph, so that analytics,
alerting and the dashboard define their sections without importing the
composition root that assembles them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.engine import make_url

from collector.schema import TIERS

DEFAULT_DATABASE_URL = "sqlite:///./tierwatch.db"


class Section(BaseModel):
    """A settings section: unknown keys are errors so that typos are caught at start-up."""

    model_config = ConfigDict(extra="forbid")


class DatabasePasswordError(Exception):
    """The database password file cannot be read."""


class DatabaseSettings(Section):
    """Where attempts and rollups are stored."""

    url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: sqlite:///... or postgresql://...",
    )
    password_file: Path | None = Field(
        default=None,
        description=(
            "File holding the database password (e.g. a Docker secret), used instead of a "
            "password in the URL; one trailing newline is ignored."
        ),
    )
    pool_size: int = Field(default=8, ge=1, description="Connections kept open to PostgreSQL.")
    busy_timeout_ms: int = Field(
        default=5000,
        ge=0,
        description="How long a SQLite writer waits for the lock before the collector answers 503.",
    )

    def engine_url(self) -> str:
        """The URL to connect with: ``url``, with the password from ``password_file`` if set.

        The file is read here, when an engine is made, so the password never sits in the
        settings (or in what they print).
        """
        if self.password_file is None:
            return self.url
        try:
            password = self.password_file.read_text().removesuffix("\n")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not text"
            raise DatabasePasswordError(
                f"database.password_file {self.password_file} cannot be read ({reason}); "
                "check TIERWATCH_DATABASE__PASSWORD_FILE and the secret it names"
            ) from exc
        return make_url(self.url).set(password=password).render_as_string(hide_password=False)


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
        description="Export requests allowed to wait; beyond that the collector answers 429.",
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
