"""The collector's settings sections, and the base that every settings section builds on.

The base lives here, at the bottom of the package graph, so that analytics,
alerting and the dashboard define their sections without importing the
composition root that assembles them.
"""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from collector.cardinality import DEFAULT_MAX_VALUES, LIMITED_DIMENSIONS, OVERFLOW
from collector.credentials import expand, one_of
from collector.schema import TIERS

DEFAULT_DATABASE_URL = "sqlite:///./tierwatch.db"


class Section(BaseModel):
    """A settings section: unknown keys are errors so that typos are caught at start-up."""

    model_config = ConfigDict(extra="forbid")


class DatabaseSettings(Section):
    """Where attempts and rollups are stored."""

    # The settings keep what was written (``${VAR}``, a file's name), so what they
    # print or hand to worker processes never holds the password; ``engine_url``
    # makes the URL to connect with, and validation checks that it can be made, so
    # a missing variable or an unreadable file is reported at start-up.

    url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: sqlite:///... or postgresql://...; ${VAR} is replaced "
        "by the environment variable VAR.",
    )
    password: str = Field(
        default="",
        description='Database password put into the URL, e.g. "${PGPASSWORD}" (replaces a '
        "password in the URL).",
        repr=False,
    )
    password_file: str = Field(
        default="",
        description="File holding the database password (e.g. a Docker secret); instead of "
        "password. One trailing newline is ignored.",
    )
    pool_size: int = Field(default=8, ge=1, description="Connections kept open to PostgreSQL.")
    busy_timeout_ms: int = Field(
        default=5000,
        ge=0,
        description="How long a SQLite writer waits for the lock before the collector answers 503.",
    )

    @model_validator(mode="after")
    def _credentials(self) -> DatabaseSettings:
        self.engine_url()
        return self

    def engine_url(self) -> str:
        """The URL to connect with: ``${VAR}`` expanded and the password put in.

        Raises :class:`~collector.credentials.MissingCredential` (a ``ValueError``)
        naming the setting when a variable is not set or the file cannot be read.
        """
        url = expand(self.url, key="database.url")
        password = one_of(self.password, self.password_file, key="database.password")
        if not password:
            return url
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise ValueError("database.url is not a valid SQLAlchemy URL") from None
        return parsed.set(password=password).render_as_string(hide_password=False)

    def __repr__(self) -> str:
        # Never show the password (logs, reprs of settings).
        return f"DatabaseSettings(url={redacted_url(self.url)!r}, pool_size={self.pool_size})"


def redacted_url(url: str) -> str:
    """A database URL with its password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid URL>"


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
    body_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description=(
            "Time a request body may take to arrive, from the end of its headers; a slower "
            "one is answered 408. Bodies are read before a processing slot is taken."
        ),
    )
    max_concurrent_reads: int = Field(
        default=256,
        ge=1,
        description="Request bodies being received at once; beyond that the collector answers 503.",
    )
    max_buffered_bytes: int = Field(
        default=512 * 1024 * 1024,
        ge=1024,
        description=(
            "Bytes of request bodies held at once (received and not yet answered); beyond "
            "that the collector answers 503. Keep it above max_body_bytes."
        ),
    )
    ingest_workers: int | None = Field(
        default=None,
        ge=0,
        le=64,
        description=(
            "Processes that decode, validate and store export requests; 0 does it in "
            "threads of the server process. Unset: min(cores, 4) where the machine has "
            "more than one core and the server runs as one process (server.workers = 1), else 0."
        ),
    )

    def ingest_processes(self, *, server_processes: int = 1, cpu_count: int | None = None) -> int:
        """The ingest worker processes to start: the setting, or the automatic choice.

        Automatic: one per core up to four, where there is more than one core; none
        when several server processes already share the cores.
        """
        if self.ingest_workers is not None:
            return self.ingest_workers
        cores = (os.cpu_count() if cpu_count is None else cpu_count) or 1
        return min(cores, 4) if cores > 1 and server_processes == 1 else 0

    assembly_interval_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How often the server assembles newly stored attempts into requests and "
        "their per-minute request rollups (one server at a time); 0 turns it off.",
    )
    assembly_max_delay_seconds: float = Field(
        default=60.0,
        ge=0,
        description="While export requests keep arriving, an assembly pass waits for a quiet "
        "second, at most this long after it fell due: ingestion goes first, and request "
        "rollups lag by at most the interval plus this.",
    )
    retention_days: int = Field(
        default=30,
        ge=0,
        description="Raw attempts, and the assembled requests, older than this are deleted; "
        "rollups stay. 0 keeps them forever.",
    )
    ingest_stats_retention_days: int = Field(
        default=90,
        ge=0,
        description="Per-minute ingest counters (ingest_stats) older than this are deleted; "
        "0 keeps them forever.",
    )
    device_retention_days: int = Field(
        default=90,
        ge=0,
        description="Device states not seen for this long are deleted (version drift reads "
        "only devices seen in the last analytics.active_hours); 0 keeps them forever.",
    )
    max_values: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_MAX_VALUES),
        description=(
            "Distinct values each fleet may store per dimension; a value beyond the limit is "
            f"stored as {OVERFLOW!r} and counted (summary, /metrics, health report warnings). "
            "Keys given here replace those defaults, the others keep theirs."
        ),
    )
    fleet_max_values: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description=("Per-fleet overrides of max_values, e.g. {acme = {device_model = 5000}}."),
    )

    @field_validator("max_values")
    @classmethod
    def _complete_limits(cls, value: dict[str, int]) -> dict[str, int]:
        _check_limits(value)
        return {**DEFAULT_MAX_VALUES, **value}

    @field_validator("fleet_max_values")
    @classmethod
    def _known_fleet_limits(cls, value: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        for limits in value.values():
            _check_limits(limits)
        return value

    def value_limits(self) -> dict[str | None, dict[str, int]]:
        """Limits per fleet (``None``: every fleet without an override of its own)."""
        out: dict[str | None, dict[str, int]] = {None: dict(self.max_values)}
        for fleet, limits in self.fleet_max_values.items():
            out[fleet] = {**self.max_values, **limits}
        return out


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


def _check_limits(limits: dict[str, int]) -> None:
    for dimension, limit in limits.items():
        if dimension not in LIMITED_DIMENSIONS:
            raise ValueError(
                f"unknown dimension {dimension!r}; limited dimensions are "
                f"{', '.join(LIMITED_DIMENSIONS)}"
            )
        if limit < 1:
            raise ValueError(f"the limit of {dimension} must be at least 1")


def _check_tiers(tiers: list[str]) -> None:
    unknown = [t for t in tiers if t not in TIERS]
    if unknown:
        raise ValueError(f"unknown tier {unknown[0]!r}; tiers are {', '.join(TIERS)}")
