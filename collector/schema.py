"""The store's tables. The collector owns them; analytics only reads them.

Attempts and their per-minute ``rollups`` are written by ingestion; requests (one
per trace: ``requests``, their per-minute ``request_rollups``) are assembled from
the ``request_queue`` of newly stored attempts by :mod:`collector.assemble`.

Times are integers: span times in Unix nanoseconds as OTLP sends them, rollup
minutes in Unix seconds (the start of the minute). Integers compare and bucket the
same way on SQLite and PostgreSQL and cost nothing to convert in pandas.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Constraint names are fixed so that migrations name the same objects on both databases.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Where an attempt ran.
TIERS = ("device", "edge", "cloud")

#: The dimensions a segment is made of, in the order of the DESIGN's ``by`` list.
SEGMENT_DIMENSIONS = (
    "fleet",
    "tier",
    "task",
    "model",
    "model_version",
    "device_model",
    "region",
    "app_version",
    "node",
)

#: Fallback reasons of the contract, each counted in its own rollup column.
FALLBACK_REASONS = ("low_confidence", "error", "timeout", "offline", "thermal", "battery", "oom")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Segment(Base):
    """One combination of dimension values; rollups refer to it by id."""

    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint(*SEGMENT_DIMENSIONS, name="uq_segments_dimensions"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fleet: Mapped[str] = mapped_column(String(128))
    tier: Mapped[str] = mapped_column(String(16))
    task: Mapped[str] = mapped_column(String(128))
    model: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(64))
    device_model: Mapped[str] = mapped_column(String(128))
    region: Mapped[str] = mapped_column(String(64))
    app_version: Mapped[str] = mapped_column(String(64))
    node: Mapped[str] = mapped_column(String(128))


class Attempt(Base):
    """One ``hybrid.inference`` span: every contract attribute as a typed column."""

    __tablename__ = "attempts"

    trace_id: Mapped[bytes] = mapped_column(LargeBinary(16))
    span_id: Mapped[bytes] = mapped_column(LargeBinary(8))
    parent_span_id: Mapped[bytes | None] = mapped_column(LargeBinary(8))
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id"))
    start_time_unix_nano: Mapped[int] = mapped_column(BigInteger)
    received_time_unix_nano: Mapped[int] = mapped_column(BigInteger)
    latency_ms: Mapped[float] = mapped_column(Float)
    # Who sent it (resource attributes).
    fleet: Mapped[str] = mapped_column(String(128))
    service_name: Mapped[str | None] = mapped_column(String(128))
    app_version: Mapped[str | None] = mapped_column(String(64))
    device_id: Mapped[str | None] = mapped_column(String(128))
    device_model: Mapped[str | None] = mapped_column(String(128))
    os_name: Mapped[str | None] = mapped_column(String(64))
    os_version: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(64))
    node: Mapped[str | None] = mapped_column(String(128))
    environment: Mapped[str | None] = mapped_column(String(64))
    # What ran (span attributes).
    tier: Mapped[str] = mapped_column(String(16))
    task: Mapped[str] = mapped_column(String(128))
    model: Mapped[str | None] = mapped_column(String(128))
    model_version: Mapped[str | None] = mapped_column(String(64))
    attempt: Mapped[int | None] = mapped_column(Integer)
    route_reason: Mapped[str | None] = mapped_column(String(32))
    fallback: Mapped[bool] = mapped_column(Boolean)
    fallback_reason: Mapped[str | None] = mapped_column(String(32))
    confidence: Mapped[float | None] = mapped_column(Float)
    quality: Mapped[float | None] = mapped_column(Float)
    shadow: Mapped[bool] = mapped_column(Boolean)
    privacy: Mapped[str | None] = mapped_column(String(16))
    privacy_violation: Mapped[bool] = mapped_column(Boolean)
    network: Mapped[str | None] = mapped_column(String(16))
    energy_mj: Mapped[float | None] = mapped_column(Float)
    thermal: Mapped[str | None] = mapped_column(String(16))
    quantization: Mapped[str | None] = mapped_column(String(16))
    input_tokens: Mapped[int | None] = mapped_column(BigInteger)
    output_tokens: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[bool] = mapped_column(Boolean)
    error_type: Mapped[str | None] = mapped_column(String(128))
    #: Attributes the operator allow-listed, as a JSON object (text).
    extra: Mapped[str | None] = mapped_column(Text)

    # A span is identified by its start time, trace id and span id: a re-sent span
    # repeats all three. Leading with the start time keeps the one index the table
    # has append-mostly (a batch touches a few pages, not one random page per span,
    # which is what makes a trace-id-first key slow to write), and serves time-range
    # reads and retention. Analytics reads rollups; raw reads filter by time first.
    __table_args__ = (
        PrimaryKeyConstraint("start_time_unix_nano", "trace_id", "span_id", name="pk_attempts"),
    )


class RollupSums:
    """The columns every rollup holds; each one merges by addition (histograms by bucket)."""

    attempts: Mapped[int] = mapped_column(BigInteger)
    requests: Mapped[int] = mapped_column(BigInteger)
    errors: Mapped[int] = mapped_column(BigInteger)
    fallbacks: Mapped[int] = mapped_column(BigInteger)
    fallback_low_confidence: Mapped[int] = mapped_column(BigInteger)
    fallback_error: Mapped[int] = mapped_column(BigInteger)
    fallback_timeout: Mapped[int] = mapped_column(BigInteger)
    fallback_offline: Mapped[int] = mapped_column(BigInteger)
    fallback_thermal: Mapped[int] = mapped_column(BigInteger)
    fallback_battery: Mapped[int] = mapped_column(BigInteger)
    fallback_oom: Mapped[int] = mapped_column(BigInteger)
    fallback_other: Mapped[int] = mapped_column(BigInteger)
    cloud_escalations: Mapped[int] = mapped_column(BigInteger)
    sensitive: Mapped[int] = mapped_column(BigInteger)
    privacy_violations: Mapped[int] = mapped_column(BigInteger)
    offline: Mapped[int] = mapped_column(BigInteger)
    thermal_throttled: Mapped[int] = mapped_column(BigInteger)
    latency_ms_sum: Mapped[float] = mapped_column(Float)
    confidence_count: Mapped[int] = mapped_column(BigInteger)
    confidence_sum: Mapped[float] = mapped_column(Float)
    confidence_sq_sum: Mapped[float] = mapped_column(Float)
    quality_count: Mapped[int] = mapped_column(BigInteger)
    quality_sum: Mapped[float] = mapped_column(Float)
    quality_sq_sum: Mapped[float] = mapped_column(Float)
    energy_count: Mapped[int] = mapped_column(BigInteger)
    energy_mj_sum: Mapped[float] = mapped_column(Float)
    energy_mj_sq_sum: Mapped[float] = mapped_column(Float, server_default="0")
    input_tokens_sum: Mapped[int] = mapped_column(BigInteger)
    output_tokens_sum: Mapped[int] = mapped_column(BigInteger)
    latency_hist: Mapped[str] = mapped_column(Text)
    confidence_hist: Mapped[str] = mapped_column(Text)


class RequestRollupSums:
    """The columns every request rollup holds; each merges by addition (the histogram by bucket)."""

    requests: Mapped[int] = mapped_column(BigInteger)
    answered: Mapped[int] = mapped_column(BigInteger)
    failed: Mapped[int] = mapped_column(BigInteger)
    escalated: Mapped[int] = mapped_column(BigInteger)
    served_device: Mapped[int] = mapped_column(BigInteger)
    served_edge: Mapped[int] = mapped_column(BigInteger)
    served_cloud: Mapped[int] = mapped_column(BigInteger)
    attempts_sum: Mapped[int] = mapped_column(BigInteger)
    tiers_sum: Mapped[int] = mapped_column(BigInteger)
    latency_ms_sum: Mapped[float] = mapped_column(Float)
    latency_hist: Mapped[str] = mapped_column(Text)
    quality_count: Mapped[int] = mapped_column(BigInteger)
    quality_sum: Mapped[float] = mapped_column(Float)
    quality_sq_sum: Mapped[float] = mapped_column(Float)
    input_tokens_sum: Mapped[int] = mapped_column(BigInteger)
    output_tokens_sum: Mapped[int] = mapped_column(BigInteger)


class Rollup(RollupSums, Base):
    """Per-minute, per-segment sums of attempts; every column merges by addition.

    Shadow attempts get their own rows (``shadow`` is part of the key) so that
    evaluation traffic never mixes with served traffic. Histograms are sparse JSON
    objects ``{"bucket": count}``; see :mod:`collector.buckets`.
    """

    __tablename__ = "rollups"

    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id"), primary_key=True)
    minute: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    shadow: Mapped[bool] = mapped_column(Boolean, primary_key=True)

    __table_args__ = (Index("ix_rollups_minute", "minute"),)


class HourlyRollup(RollupSums, Base):
    """The minute rollups of one closed hour, added up (written by analytics compaction).

    Same columns as :class:`Rollup` with ``hour`` (Unix seconds, start of the hour)
    for ``minute``. A day is 24 rows per segment instead of 1,440, so reports over
    long baselines read little. Hours at or after the ``hourly_rollups`` watermark in
    ``analytics_state`` are not compacted yet and are read from ``rollups``.
    """

    __tablename__ = "hourly_rollups"

    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id"), primary_key=True)
    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    shadow: Mapped[bool] = mapped_column(Boolean, primary_key=True)

    __table_args__ = (Index("ix_hourly_rollups_hour", "hour"),)


#: Sums of each ``advice_rollups`` row; every one merges by addition.
ADVICE_SUMS = (
    "attempts",
    "forced",
    "low_confidence",
    "local_quality_count",
    "local_quality_sum",
    "local_quality_sq_sum",
    "local_latency_ms_sum",
    "energy_count",
    "energy_mj_sum",
    "local_input_tokens_sum",
    "local_output_tokens_sum",
    "escalated",
    "cloud_quality_count",
    "cloud_quality_sum",
    "cloud_quality_sq_sum",
    "cloud_energy_mj_sum",
    "cloud_input_tokens_sum",
    "cloud_output_tokens_sum",
    "forced_cloud",
    "forced_quality_count",
    "forced_quality_sum",
    "forced_quality_sq_sum",
    "forced_energy_mj_sum",
    "forced_input_tokens_sum",
    "forced_output_tokens_sum",
)
#: Histogram columns of ``advice_rollups`` (sparse JSON over the latency buckets).
ADVICE_HISTOGRAMS = ("local_latency_hist", "cloud_latency_hist", "forced_latency_hist")


class AdviceRollup(Base):
    """Local attempts of one closed hour by confidence, with what the same requests got next.

    Written by analytics (:mod:`analytics.advice_rollups`) from raw attempts, one
    row per (fleet, task, local tier, model, hour, confidence bucket of width
    0.01). ``forced`` attempts fell back for another reason than low confidence
    (error, time-out, offline, ...) or could not fall back (sensitive data, an
    offline device), so no threshold changes their course; the
    ``local_*`` columns count the others, whose course the threshold decides.
    ``escalated`` of those fell back and reached the cloud: the ``cloud_*``
    columns hold the cloud attempt of the same trace (joined by trace id). The
    ``forced_*`` columns hold what forced requests ended with: the served
    attempt's quality, their end-to-end latency and their cloud calls.
    """

    __tablename__ = "advice_rollups"

    # Task and tier lead the key: the what-if asks for one task's local tier, of one
    # fleet or of all.
    task: Mapped[str] = mapped_column(String(128), primary_key=True)
    tier: Mapped[str] = mapped_column(String(16), primary_key=True)
    fleet: Mapped[str] = mapped_column(String(128), primary_key=True)
    model: Mapped[str] = mapped_column(String(128), primary_key=True)
    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempts: Mapped[int] = mapped_column(BigInteger)
    forced: Mapped[int] = mapped_column(BigInteger)
    low_confidence: Mapped[int] = mapped_column(BigInteger)
    local_quality_count: Mapped[int] = mapped_column(BigInteger)
    local_quality_sum: Mapped[float] = mapped_column(Float)
    local_quality_sq_sum: Mapped[float] = mapped_column(Float)
    local_latency_ms_sum: Mapped[float] = mapped_column(Float)
    energy_count: Mapped[int] = mapped_column(BigInteger)
    energy_mj_sum: Mapped[float] = mapped_column(Float)
    local_input_tokens_sum: Mapped[int] = mapped_column(BigInteger)
    local_output_tokens_sum: Mapped[int] = mapped_column(BigInteger)
    escalated: Mapped[int] = mapped_column(BigInteger)
    cloud_quality_count: Mapped[int] = mapped_column(BigInteger)
    cloud_quality_sum: Mapped[float] = mapped_column(Float)
    cloud_quality_sq_sum: Mapped[float] = mapped_column(Float)
    cloud_energy_mj_sum: Mapped[float] = mapped_column(Float)
    cloud_input_tokens_sum: Mapped[int] = mapped_column(BigInteger)
    cloud_output_tokens_sum: Mapped[int] = mapped_column(BigInteger)
    forced_cloud: Mapped[int] = mapped_column(BigInteger)
    forced_quality_count: Mapped[int] = mapped_column(BigInteger)
    forced_quality_sum: Mapped[float] = mapped_column(Float)
    forced_quality_sq_sum: Mapped[float] = mapped_column(Float)
    forced_energy_mj_sum: Mapped[float] = mapped_column(Float)
    forced_input_tokens_sum: Mapped[int] = mapped_column(BigInteger)
    forced_output_tokens_sum: Mapped[int] = mapped_column(BigInteger)
    local_latency_hist: Mapped[str] = mapped_column(Text)
    cloud_latency_hist: Mapped[str] = mapped_column(Text)
    forced_latency_hist: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_advice_rollups_hour", "hour"),)


class AdviceHour(Base):
    """An hour of raw attempts folded into ``advice_rollups``, and how many attempts it held.

    A later pass that counts a different number of attempts in the hour rewrites it.
    """

    __tablename__ = "advice_hours"

    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source_attempts: Mapped[int] = mapped_column(BigInteger)


class HourlyRequestRollup(RequestRollupSums, Base):
    """The request rollups of one closed hour, added up (written by analytics compaction).

    Same columns as :class:`RequestRollup` with ``hour`` (Unix seconds, start of the
    hour) for ``minute``: objectives over 28 days read 672 rows per segment instead
    of 40,320. Hours at or after the ``hourly_request_rollups`` watermark in
    ``analytics_state`` are read from ``request_rollups``.
    """

    __tablename__ = "hourly_request_rollups"

    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id"), primary_key=True)
    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True)

    __table_args__ = (Index("ix_hourly_request_rollups_hour", "hour"),)


class AnalyticsState(Base):
    """Named integers the read side keeps, such as the hourly compaction watermark."""

    __tablename__ = "analytics_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class LateHour(Base):
    """An hour that received attempts after it had ended, for compaction to fold in again.

    The collector notes every hour older than the previous one that a request adds
    rollups to; ``version`` grows with every note, so a compaction pass removes
    only the notes it has seen.
    """

    __tablename__ = "late_hours"

    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, server_default="1")


class RequestLateHour(Base):
    """An hour of request rollups the assembler changed after it had ended.

    Compaction folds each closed hour into ``hourly_request_rollups`` once; a late
    attempt that moves a request of an earlier hour is noted here so that hour is
    folded again. ``version`` grows with every note, so a pass removes only the
    notes it has seen.
    """

    __tablename__ = "request_late_hours"

    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, server_default="1")


class RequestQueue(Base):
    """Newly stored attempts of one ingest transaction, waiting to be assembled into requests.

    The ingest transaction adds one row: the primary keys of the attempts it stored
    (re-sent spans are not stored, so they are not queued), packed 32 bytes each
    (start time as a big-endian signed 64-bit integer, trace id, span id; see
    :data:`collector.writer.QUEUE_KEY`). The assembler (:mod:`collector.assemble`)
    reads the attempts by those keys, folds them into ``requests`` and
    ``request_rollups``, and deletes the row in the same transaction. One small row
    per batch, whatever its size, is all ingestion pays.
    """

    __tablename__ = "request_queue"

    # INTEGER PRIMARY KEY on SQLite is the rowid, so the queue costs no index there.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    attempt_keys: Mapped[bytes] = mapped_column(LargeBinary)


class Request(Base):
    """One request (a trace of one fleet) as assembled from the attempts stored so far.

    The *first* attempt is the non-shadow attempt with the lowest ``hybrid.attempt``
    (ties: the earliest start, then the lowest span id); it gives the request its
    segment and start. The *served* attempt is the first (in the same order)
    non-shadow attempt that neither fell back nor failed; a request without one has
    failed (so far: a later attempt may still arrive). ``tiers`` is a bit set of the
    tiers tried, shadow attempts aside (device 1, edge 2, cloud 4). ``span_ids``
    holds the span ids already merged, 8 bytes each, so that an attempt is never
    merged twice. Until a non-shadow attempt arrives, ``segment_id`` is null, the
    start is the earliest shadow attempt's and the request counts nowhere.
    """

    __tablename__ = "requests"

    # The trace id leads the key: the assembler looks requests up by trace id.
    trace_id: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    fleet: Mapped[str] = mapped_column(String(128), primary_key=True)
    start_time_unix_nano: Mapped[int] = mapped_column(BigInteger)
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segments.id"))
    first_attempt: Mapped[int | None] = mapped_column(Integer)
    first_tier: Mapped[str | None] = mapped_column(String(16))
    first_span_id: Mapped[bytes | None] = mapped_column(LargeBinary(8))
    served_attempt: Mapped[int | None] = mapped_column(Integer)
    served_start_unix_nano: Mapped[int | None] = mapped_column(BigInteger)
    served_latency_ms: Mapped[float | None] = mapped_column(Float)
    served_tier: Mapped[str | None] = mapped_column(String(16))
    served_quality: Mapped[float | None] = mapped_column(Float)
    served_span_id: Mapped[bytes | None] = mapped_column(LargeBinary(8))
    attempts: Mapped[int] = mapped_column(Integer)
    tiers: Mapped[int] = mapped_column(Integer)
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)
    span_ids: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_requests_start_time_unix_nano", "start_time_unix_nano"),)


class RequestRollup(RequestRollupSums, Base):
    """Per-minute sums of requests, in the segment and minute of each request's first attempt.

    Every column merges by addition (the histogram by bucket, in the format of
    :class:`Rollup`'s ``latency_hist``), so groups of rows add up like attempt
    rollups. A request is *answered* when an attempt's answer was served, *failed*
    when none was, *escalated* when its first attempt ran locally (device or edge)
    and the cloud served it. Latency is end to end (first attempt's start to the
    served attempt's end) and counts answered requests only; quality is the served
    attempt's where known; tokens are summed over all the request's attempts,
    ``attempts_sum`` over its non-shadow attempts and ``tiers_sum`` over the
    distinct tiers it tried. The assembler moves a request's contribution when a
    late attempt changes it.
    """

    __tablename__ = "request_rollups"

    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id"), primary_key=True)
    minute: Mapped[int] = mapped_column(BigInteger, primary_key=True)

    __table_args__ = (Index("ix_request_rollups_minute", "minute"),)


class Device(Base):
    """The last known state of one device for one model, for version drift."""

    __tablename__ = "devices"

    fleet: Mapped[str] = mapped_column(String(128), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    model: Mapped[str] = mapped_column(String(128), primary_key=True)
    model_version: Mapped[str] = mapped_column(String(64))
    device_model: Mapped[str] = mapped_column(String(128))
    app_version: Mapped[str] = mapped_column(String(64))
    first_seen: Mapped[int] = mapped_column(BigInteger)
    last_seen: Mapped[int] = mapped_column(BigInteger)
    #: When the device was first seen on ``model_version`` (Unix seconds).
    version_since: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_devices_fleet_last_seen", "fleet", "last_seen"),)


class IngestStat(Base):
    """Per-minute, per-fleet counts of what the collector received and did with it."""

    __tablename__ = "ingest_stats"

    fleet: Mapped[str] = mapped_column(String(128), primary_key=True)
    minute: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    export_requests: Mapped[int] = mapped_column(BigInteger)
    spans_received: Mapped[int] = mapped_column(BigInteger)
    attempts_stored: Mapped[int] = mapped_column(BigInteger)
    duplicates: Mapped[int] = mapped_column(BigInteger)
    rejected: Mapped[int] = mapped_column(BigInteger)
    other_spans: Mapped[int] = mapped_column(BigInteger)
    dropped_attributes: Mapped[int] = mapped_column(BigInteger)


class DroppedAttribute(Base):
    """How often each attribute key was dropped, per fleet (keys only, never values)."""

    __tablename__ = "dropped_attributes"

    fleet: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


class ValueOverflow(Base):
    """Attempts stored with a dimension's overflow value because its fleet hit the limit.

    Per fleet and dimension: how many attempts were folded into ``__other__``
    (see :mod:`collector.cardinality`), how many distinct values were folded
    (each counted once per collector process that saw it), and when the last one
    was (Unix seconds).
    """

    __tablename__ = "value_overflow"

    fleet: Mapped[str] = mapped_column(String(128), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(32), primary_key=True)
    attempts: Mapped[int] = mapped_column(BigInteger)
    distinct_values: Mapped[int] = mapped_column(BigInteger)
    last_seen: Mapped[int] = mapped_column(BigInteger)


class Token(Base):
    """An API token, stored as the SHA-256 of its text.

    Times in Unix seconds. A token is refused once ``revoked`` or from ``expires_at``
    on; ``last_used_at`` is recorded at most once a minute per token.
    """

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    fleet: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[int] = mapped_column(BigInteger)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[int | None] = mapped_column(BigInteger)
    last_used_at: Mapped[int | None] = mapped_column(BigInteger)


class Alert(Base):
    """One alert: a rule firing (or about to) for one segment, in its latest state.

    Written by the alert evaluator (:mod:`analytics.alerting`); times in Unix
    milliseconds. ``fingerprint`` is a stable hash of the rule and the segment key, so
    the same trouble in the same segment is always the same row. ``state`` is
    ``pending``, ``firing``, ``resolved`` or ``inactive`` (was pending, cleared before
    its ``for`` passed). ``labels`` and ``annotations`` are JSON objects.
    """

    __tablename__ = "alerts"

    fingerprint: Mapped[str] = mapped_column(String(16), primary_key=True)
    rule: Mapped[str] = mapped_column(String(128))
    fleet: Mapped[str] = mapped_column(String(128))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    labels: Mapped[str] = mapped_column(Text)
    annotations: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    value: Mapped[float | None] = mapped_column(Float)
    #: When the rule's condition last became true (start of pending).
    active_since: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[int | None] = mapped_column(BigInteger)
    resolved_at: Mapped[int | None] = mapped_column(BigInteger)
    last_evaluated_at: Mapped[int] = mapped_column(BigInteger)
    #: The state operators were last told about (``firing`` or ``resolved``), and when.
    notified_state: Mapped[str | None] = mapped_column(String(16))
    last_notified_at: Mapped[int | None] = mapped_column(BigInteger)
    #: The silence that muted the alert at the last evaluation.
    silenced_by: Mapped[int | None] = mapped_column(Integer)
    #: The server (lease holder) of the last evaluation.
    evaluated_by: Mapped[str] = mapped_column(String(128))

    __table_args__ = (Index("ix_alerts_fleet_state", "fleet", "state"),)


class AlertEvent(Base):
    """One state change of an alert (its history)."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(ForeignKey("alerts.fingerprint"))
    fleet: Mapped[str] = mapped_column(String(128))
    at: Mapped[int] = mapped_column(BigInteger)
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float)
    summary: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_alert_events_fingerprint_at", "fingerprint", "at"),)


class Delivery(Base):
    """One notification to one hook: the durable outbox row and its delivery status.

    Written in the same transaction as the alert state change that causes it.
    ``body`` is the exact payload sent on every attempt; ``webhook_id`` stays the
    same across attempts. ``status`` is ``pending``, ``delivered``, ``failed`` (not
    retryable), ``dead`` (gave up after the maximum age) or ``superseded`` (an
    Alertmanager batch replaced by a newer one before it was sent). ``event`` is
    ``firing``, ``resolved``, ``test`` or ``batch`` (an Alertmanager batch: no
    fingerprint, one fleet). A delivery worker claims a row until ``claimed_until``.
    Times in Unix milliseconds.
    """

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(String(64), unique=True)
    hook: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(16))
    fingerprint: Mapped[str | None] = mapped_column(ForeignKey("alerts.fingerprint"))
    fleet: Mapped[str | None] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
    next_attempt_at: Mapped[int] = mapped_column(BigInteger)
    delivered_at: Mapped[int | None] = mapped_column(BigInteger)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_deliveries_hook_fingerprint", "hook", "fingerprint"),
    )


class Silence(Base):
    """A silence: alerts whose labels match every matcher are not notified until ``ends_at``.

    ``matchers`` is a JSON list of ``{"name", "value", "op"}`` with ``op`` one of
    ``=``, ``!=``, ``=~``, ``!~``. ``fleet`` is set when a fleet's token created it
    (it then applies to that fleet only). Times in Unix milliseconds.
    """

    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fleet: Mapped[str | None] = mapped_column(String(128))
    matchers: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[int] = mapped_column(BigInteger)
    ends_at: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(128))
    comment: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_silences_ends_at", "ends_at"),)


class Lease(Base):
    """A named lease one server holds until ``expires_at`` (Unix ms), e.g. alert evaluation."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[int] = mapped_column(BigInteger)
    acquired_at: Mapped[int] = mapped_column(BigInteger)


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


SEGMENTS = _table(Segment)
ATTEMPTS = _table(Attempt)
ROLLUPS = _table(Rollup)
HOURLY_ROLLUPS = _table(HourlyRollup)
ANALYTICS_STATE = _table(AnalyticsState)
ADVICE_ROLLUPS = _table(AdviceRollup)
ADVICE_HOURS = _table(AdviceHour)
HOURLY_REQUEST_ROLLUPS = _table(HourlyRequestRollup)
LATE_HOURS = _table(LateHour)
REQUEST_QUEUE = _table(RequestQueue)
REQUEST_LATE_HOURS = _table(RequestLateHour)
REQUESTS = _table(Request)
REQUEST_ROLLUPS = _table(RequestRollup)
DEVICES = _table(Device)
INGEST_STATS = _table(IngestStat)
DROPPED_ATTRIBUTES = _table(DroppedAttribute)
VALUE_OVERFLOW = _table(ValueOverflow)
TOKENS = _table(Token)
ALERTS = _table(Alert)
ALERT_EVENTS = _table(AlertEvent)
DELIVERIES = _table(Delivery)
SILENCES = _table(Silence)
LEASES = _table(Lease)
