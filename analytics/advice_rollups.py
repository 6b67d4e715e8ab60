"""Fold closed hours of raw attempts into ``advice_rollups``, and read them back per bucket.

The routing what-if (:mod:`analytics.advice`) needs, per confidence bucket of a
local tier, what its attempts did and what the same requests got at the cloud.
That joins attempts of one trace, which minute rollups cannot do and which is
too slow over a week of raw attempts for every question. So one pass per
closed hour reads the hour's attempts (and a margin after it, for the cloud
attempts of its traces that started later), joins them by trace id in pandas
and writes one row per (fleet, task, local tier, model, hour, bucket).

Hours are written from a watermark (``advice_rollups`` in ``analytics_state``)
on, one transaction each; ``advice_hours`` keeps how many attempts each hour
held, and the last ``recheck_hours`` hours are rewritten when that count has
changed (attempts that arrived late), older ones when the collector noted them
in ``late_hours`` (the pass runs before compaction, which removes the notes).
Writes are idempotent, so two servers running the pass at once only repeat work.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, Float, Integer, cast, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from analytics.histograms import LATENCY_BINS, LATENCY_OFFSET, parse_joined
from analytics.rollups import HOUR
from analytics.state import raise_state, read_state
from collector import buckets
from collector.db import WRITE
from collector.schema import (
    ADVICE_HISTOGRAMS,
    ADVICE_HOURS,
    ADVICE_ROLLUPS,
    ADVICE_SUMS,
    ATTEMPTS,
    LATE_HOURS,
)

log = logging.getLogger(__name__)
NS = 1_000_000_000
#: Name of the watermark in ``analytics_state``: the first hour not folded yet.
ADVICE_WATERMARK = "advice_rollups"
#: Confidence buckets of the what-if: width 0.01, so thresholds are read to two decimals.
ADVICE_BUCKETS = 100
#: New hours one pass folds at most.
MAX_HOURS = 24
#: Attempts of a trace that start this long after its hour are still read with it.
MARGIN_SECONDS = 120
LOCAL_TIERS = ("device", "edge")
_COLUMNS = (
    "trace_id",
    "start_time_unix_nano",
    "latency_ms",
    "fleet",
    "tier",
    "task",
    "model",
    "shadow",
    "fallback",
    "fallback_reason",
    "confidence",
    "quality",
    "energy_mj",
    "input_tokens",
    "output_tokens",
    "privacy",
    "network",
)
_KEY = ["fleet", "task", "tier", "model", "bucket"]


def advice_bucket(confidence: np.ndarray) -> np.ndarray:
    """The what-if bucket (0..99) of each confidence: ``floor(100 * c)``, 1.0 in the last."""
    scaled = np.floor(np.asarray(confidence, dtype=float) * ADVICE_BUCKETS + 1e-9)
    return np.clip(scaled, 0, ADVICE_BUCKETS - 1).astype(np.int64)


def latency_buckets(latency_ms: np.ndarray) -> np.ndarray:
    """The collector's log-scale latency bucket of each latency."""
    values = np.clip(np.asarray(latency_ms, dtype=float), buckets.MIN_LATENCY_MS, None)
    values = np.minimum(values, buckets.MAX_LATENCY_MS)
    index: np.ndarray = np.ceil(np.log(values) / np.log(buckets.GAMMA) - 1e-9).astype(np.int64)
    return index


def hour_rows(attempts: pd.DataFrame, *, hour: int) -> list[dict[str, Any]]:
    """The ``advice_rollups`` rows of ``hour`` from its raw attempts (and the margin after it).

    Pure: ``attempts`` has the columns of :data:`_COLUMNS`; local attempts that
    start in the hour are the rows, later attempts of their traces their outcome.
    """
    if attempts.empty:
        return []
    frame = attempts.copy()
    frame["model"] = frame["model"].fillna("")
    frame["shadow"] = frame["shadow"].astype(bool)
    frame["fallback"] = frame["fallback"].astype(bool)
    end_ns = (hour + HOUR) * NS
    local = frame[
        frame.tier.isin(LOCAL_TIERS)
        & ~frame.shadow
        & frame.confidence.notna()
        & (frame.start_time_unix_nano >= hour * NS)
        & (frame.start_time_unix_nano < end_ns)
    ].copy()
    if local.empty:
        return []
    local["row"] = np.arange(len(local))
    local["bucket"] = advice_bucket(local.confidence.to_numpy())
    # Forced: fell back for another reason than low confidence, or could not fall back at
    # all (sensitive data stays local, an offline device has no cloud): no threshold
    # changes their course.
    pinned = ~local.fallback & ((local.privacy == "sensitive") | (local.network == "offline"))
    local["pinned"] = pinned
    local["forced"] = (local.fallback & (local.fallback_reason != "low_confidence")) | pinned
    local["low_confidence"] = local.fallback & (local.fallback_reason == "low_confidence")
    local["end_ns"] = local.start_time_unix_nano + (local.latency_ms * 1e6).round()

    # What happened next in each local attempt's trace: the served attempts after it.
    outcome = ["latency_ms", "tier", "quality", "energy_mj", "input_tokens", "output_tokens"]
    later = frame[~frame.shadow][["trace_id", "start_time_unix_nano", *outcome]]
    pairs = local[["row", "trace_id", "start_time_unix_nano", "end_ns", "fallback"]].merge(
        later, on="trace_id", suffixes=("", "_next")
    )
    pairs = pairs[
        pairs.fallback & (pairs.start_time_unix_nano_next > pairs.start_time_unix_nano)
    ].sort_values(["row", "start_time_unix_nano_next"])
    pairs["next_end_ns"] = pairs.start_time_unix_nano_next + (pairs.latency_ms * 1e6).round()
    cloud = pairs[pairs.tier == "cloud"].groupby("row").first()
    served = pairs.groupby("row").last()
    next_energy = pairs.groupby("row").energy_mj.sum(min_count=1)

    local = local.set_index("row")
    local["has_cloud"] = local.index.isin(cloud.index)
    local["cloud_quality"] = cloud.quality.reindex(local.index)
    local["cloud_added_ms"] = ((cloud.next_end_ns.reindex(local.index)) - local.end_ns) / 1e6
    local["cloud_energy"] = cloud.energy_mj.reindex(local.index)
    local["cloud_input"] = cloud.input_tokens.reindex(local.index)
    local["cloud_output"] = cloud.output_tokens.reindex(local.index)
    local["served_quality"] = served.quality.reindex(local.index)
    local["served_end_ns"] = served.next_end_ns.reindex(local.index)
    local["next_energy"] = next_energy.reindex(local.index)

    free = ~local.forced
    escalated = free & local.low_confidence & local.has_cloud
    forced = local.forced
    q_local = local.quality.where(free)
    q_cloud = local.cloud_quality.where(escalated)
    q_forced = local.served_quality.where(forced & ~local.pinned, local.quality.where(local.pinned))
    columns = {
        "attempts": 1,
        "forced": forced,
        "low_confidence": free & local.low_confidence,
        "local_quality_count": q_local.notna(),
        "local_quality_sum": q_local.fillna(0.0),
        "local_quality_sq_sum": q_local.fillna(0.0) ** 2,
        "local_latency_ms_sum": local.latency_ms.where(free, 0.0),
        "energy_count": local.energy_mj.notna(),
        "energy_mj_sum": local.energy_mj.fillna(0.0),
        "local_input_tokens_sum": local.input_tokens.fillna(0),
        "local_output_tokens_sum": local.output_tokens.fillna(0),
        "escalated": escalated,
        "cloud_quality_count": q_cloud.notna(),
        "cloud_quality_sum": q_cloud.fillna(0.0),
        "cloud_quality_sq_sum": q_cloud.fillna(0.0) ** 2,
        "cloud_energy_mj_sum": local.cloud_energy.where(escalated).fillna(0.0),
        "cloud_input_tokens_sum": local.cloud_input.where(escalated).fillna(0),
        "cloud_output_tokens_sum": local.cloud_output.where(escalated).fillna(0),
        "forced_cloud": forced & local.has_cloud,
        "forced_quality_count": q_forced.notna(),
        "forced_quality_sum": q_forced.fillna(0.0),
        "forced_quality_sq_sum": q_forced.fillna(0.0) ** 2,
        "forced_energy_mj_sum": local.next_energy.where(forced).fillna(0.0),
        "forced_input_tokens_sum": local.cloud_input.where(forced).fillna(0),
        "forced_output_tokens_sum": local.cloud_output.where(forced).fillna(0),
    }
    sums = pd.DataFrame({name: columns[name] for name in ADVICE_SUMS}, index=local.index)
    sums = sums.astype(float)
    for name in _KEY:
        sums[name] = local[name]
    grouped = sums.groupby(_KEY, sort=True)[list(ADVICE_SUMS)].sum()

    # Latency histograms: the local attempt the threshold decides, the latency an
    # escalation added to it (cloud end minus local end), and forced requests end to end.
    e2e = (local.served_end_ns.fillna(local.end_ns) - local.start_time_unix_nano) / 1e6
    histograms = {
        "local_latency_hist": (free, local.latency_ms),
        "cloud_latency_hist": (escalated, local.cloud_added_ms),
        "forced_latency_hist": (forced, e2e),
    }
    encoded: dict[str, dict[tuple[Any, ...], str]] = {}
    for name, (mask, values) in histograms.items():
        part = local.loc[mask, _KEY].copy()
        part["lb"] = latency_buckets(values[mask].to_numpy())
        counts = part.groupby([*_KEY, "lb"]).size()
        texts: dict[tuple[Any, ...], list[str]] = {}
        for (*key, lb), count in counts.items():
            texts.setdefault(tuple(key), []).append(f'"{int(lb)}":{int(count)}')
        encoded[name] = {key: "{" + ",".join(items) + "}" for key, items in texts.items()}

    out: list[dict[str, Any]] = []
    integers = {c.name for c in ADVICE_ROLLUPS.columns if isinstance(c.type, Integer)}
    for key, values in grouped.iterrows():
        fleet, task, tier, model, bucket = key
        row: dict[str, Any] = {
            "fleet": fleet,
            "task": task,
            "tier": tier,
            "model": model,
            "hour": hour,
            "bucket": int(bucket),
        }
        for name in ADVICE_SUMS:
            value = float(values[name])
            row[name] = round(value) if name in integers else value
        for name in ADVICE_HISTOGRAMS:
            row[name] = encoded[name].get(key, "{}")
        out.append(row)
    return out


def read_hour_attempts(conn: Connection, hour: int) -> pd.DataFrame:
    """Raw attempts that start in ``hour`` or within :data:`MARGIN_SECONDS` after it."""
    query = select(*(ATTEMPTS.c[c] for c in _COLUMNS)).where(
        ATTEMPTS.c.start_time_unix_nano >= hour * NS,
        ATTEMPTS.c.start_time_unix_nano < (hour + HOUR + MARGIN_SECONDS) * NS,
    )
    frame = pd.DataFrame(conn.execute(query).all(), columns=list(_COLUMNS))
    if not frame.empty:
        frame["trace_id"] = frame.trace_id.map(bytes)
        for name in ("confidence", "quality", "energy_mj", "latency_ms"):
            frame[name] = frame[name].astype(float)
        for name in ("input_tokens", "output_tokens"):
            frame[name] = pd.to_numeric(frame[name]).astype(float)
    return frame


def _hour_counts(conn: Connection, start: int, end: int) -> dict[int, int]:
    """Raw attempts per hour in ``[start, end)``."""
    hour = ATTEMPTS.c.start_time_unix_nano // (HOUR * NS)
    query = (
        select(hour, func.count())
        .where(
            ATTEMPTS.c.start_time_unix_nano >= start * NS,
            ATTEMPTS.c.start_time_unix_nano < end * NS,
        )
        .group_by(hour)
    )
    return {int(h) * HOUR: int(n) for h, n in conn.execute(query)}


def _record_hour(conn: Connection, hour: int, source: int) -> None:
    """Record how many raw attempts ``hour`` held when it was folded."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(ADVICE_HOURS).values(hour=hour, source_attempts=source)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[ADVICE_HOURS.c.hour],
            set_={"source_attempts": statement.excluded.source_attempts},
        )
    )


def fold_advice(
    engine: Engine,
    *,
    now: int,
    grace_seconds: int = 300,
    recheck_hours: int = 24,
    max_hours: int = MAX_HOURS,
) -> int:
    """One pass at ``now`` (Unix seconds): fold closed hours into ``advice_rollups``.

    Returns how many hours it wrote. An hour is closed once ``grace_seconds``
    (at least :data:`MARGIN_SECONDS`) have passed after it. At most ``max_hours``
    new hours are folded per pass (a store upgraded with weeks of attempts
    catches up over several passes, leaving compaction its turn between them).
    """
    limit = (now - max(grace_seconds, MARGIN_SECONDS)) // HOUR * HOUR
    with engine.connect() as conn:
        watermark = read_state(conn, ADVICE_WATERMARK)
        if watermark is None:
            first = conn.execute(select(func.min(ATTEMPTS.c.start_time_unix_nano))).scalar()
            if first is None:
                return 0
            watermark = int(first) // NS // HOUR * HOUR
        recheck_from = max(watermark - recheck_hours * HOUR, 0)
        counts = _hour_counts(conn, recheck_from, limit) if limit > recheck_from else {}
        stored = {
            int(h): int(n)
            for h, n in conn.execute(
                select(ADVICE_HOURS.c.hour, ADVICE_HOURS.c.source_attempts).where(
                    ADVICE_HOURS.c.hour >= recheck_from
                )
            )
        }
        # Older hours the collector noted as late (a device that held its spans back for
        # days); compaction removes the notes, so this pass runs before it.
        noted = [
            int(h)
            for (h,) in conn.execute(
                select(LATE_HOURS.c.hour).where(LATE_HOURS.c.hour < recheck_from)
            )
        ]
    stale = [h for h in sorted(counts) if h < watermark and stored.get(h) != counts[h]]
    stale = sorted({*stale, *noted})
    fresh = [h for h in sorted(counts) if h >= watermark]
    if len(fresh) > max_hours:
        fresh = fresh[:max_hours]
        limit = fresh[-1] + HOUR
    for hour in [*stale, *fresh]:
        with engine.connect() as conn:
            frame = read_hour_attempts(conn, hour)
        rows = hour_rows(frame, hour=hour)
        source = int(((frame.start_time_unix_nano // NS) < hour + HOUR).sum()) if len(frame) else 0
        with engine.connect() as conn:
            conn = conn.execution_options(**{WRITE: True})
            with conn.begin():
                conn.execute(delete(ADVICE_ROLLUPS).where(ADVICE_ROLLUPS.c.hour == hour))
                if rows:
                    conn.execute(ADVICE_ROLLUPS.insert(), rows)
                _record_hour(conn, hour, source)
                if hour >= watermark:
                    raise_state(conn, ADVICE_WATERMARK, hour + HOUR)
    if limit > watermark:
        with engine.connect() as conn:
            conn = conn.execution_options(**{WRITE: True})
            with conn.begin():
                raise_state(conn, ADVICE_WATERMARK, limit)
    written = len(stale) + len(fresh)
    if written:
        log.info("folded %d hours of attempts for advice", written)
    return written


@dataclass(frozen=True)
class BucketSums:
    """The ``advice_rollups`` of a period added up per confidence bucket (dense arrays).

    ``sums[name]`` has one value per bucket (0..99); ``histograms[name]`` one dense
    latency row per bucket (``ADVICE_BUCKETS x LATENCY_BINS``).
    """

    sums: dict[str, np.ndarray]
    histograms: dict[str, np.ndarray]
    hours: int
    models: tuple[str, ...]


@dataclass(frozen=True)
class Shape:
    """What a period holds of one local tier of a task: attempts, models and whole hours."""

    attempts: int
    models: tuple[str, ...]
    hours: int


def _where(task: str, start: int, end: int, fleet: str | None) -> list[Any]:
    table = ADVICE_ROLLUPS
    where = [table.c.task == task, table.c.hour >= start, table.c.hour + HOUR <= end]
    if fleet is not None:
        where.append(table.c.fleet == fleet)
    return where


def read_shapes(
    conn: Connection, *, task: str, start: int, end: int, fleet: str | None
) -> dict[str, Shape]:
    """Each local tier of ``task`` with rows in the whole hours of ``[start, end)``, the most
    attempts first."""
    table = ADVICE_ROLLUPS
    query = (
        select(table.c.tier, table.c.model, table.c.hour, func.sum(table.c.attempts))
        .where(*_where(task, start, end, fleet))
        .group_by(table.c.tier, table.c.model, table.c.hour)
    )
    attempts: dict[str, int] = {}
    models: dict[str, set[str]] = {}
    hours: dict[str, set[int]] = {}
    for tier, model, hour, count in conn.execute(query):
        attempts[tier] = attempts.get(tier, 0) + int(count or 0)
        models.setdefault(tier, set()).add(str(model))
        hours.setdefault(tier, set()).add(int(hour))
    ranked = sorted(attempts, key=lambda t: (-attempts[t], t))
    return {t: Shape(attempts[t], tuple(sorted(models[t])), len(hours[t])) for t in ranked}


def read_buckets(
    conn: Connection,
    *,
    task: str,
    tier: str,
    start: int,
    end: int,
    fleet: str | None,
    shape: Shape | None = None,
) -> BucketSums:
    """Add up the advice rows of ``task`` at ``tier`` over whole hours in ``[start, end)``.

    ``shape`` (from :func:`read_shapes`) saves reading the models and hours again.
    """
    if shape is None:
        shape = read_shapes(conn, task=task, start=start, end=end, fleet=fleet).get(
            tier, Shape(0, (), 0)
        )
    table = ADVICE_ROLLUPS
    concat = func.string_agg if conn.dialect.name == "postgresql" else func.group_concat
    query = (
        select(
            table.c.bucket,
            *(cast(func.sum(table.c[name]), Float) for name in ADVICE_SUMS),
            *(concat(func.nullif(table.c[name], "{}"), ",") for name in ADVICE_HISTOGRAMS),
        )
        .where(table.c.tier == tier, *_where(task, start, end, fleet))
        .group_by(table.c.bucket)
    )
    sums = {name: np.zeros(ADVICE_BUCKETS) for name in ADVICE_SUMS}
    histograms = {
        name: np.zeros((ADVICE_BUCKETS, LATENCY_BINS), dtype=np.int64) for name in ADVICE_HISTOGRAMS
    }
    for bucket, *values in conn.execute(query):
        for i, name in enumerate(ADVICE_SUMS):
            sums[name][int(bucket)] = float(values[i] or 0.0)
        for j, name in enumerate(ADVICE_HISTOGRAMS):
            text = values[len(ADVICE_SUMS) + j]
            histograms[name][int(bucket)] = parse_joined(
                text, offset=LATENCY_OFFSET, bins=LATENCY_BINS
            )
    return BucketSums(sums=sums, histograms=histograms, hours=shape.hours, models=shape.models)


__all__ = [
    "ADVICE_BUCKETS",
    "BucketSums",
    "Shape",
    "fold_advice",
    "hour_rows",
    "read_buckets",
    "read_shapes",
]
