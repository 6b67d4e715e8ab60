"""Metrics as data frames: per segment over a period, and one segment over time.

:func:`metrics_frame` is what threshold alert rules evaluate; :func:`segment_series`
is what charts draw. Both read rollups and compute with :mod:`analytics.metrics`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from analytics import aggregates
from analytics.durations import from_unix, to_unix
from analytics.metrics import compute_metrics, grouping, segment_by, segment_metrics
from analytics.rollups import read_aggregates, read_buckets, read_segments, read_watermark
from analytics.units import count_segments, plan_units, read_unit_aggregates
from analytics.vocabulary import LOCAL_TIERS
from collector.config import PrivacySettings
from collector.schema import SEGMENT_DIMENSIONS

#: Steps a chart may ask for, in seconds.
STEPS = (60, 300, 900, 3600, 6 * 3600, 86_400)


def metrics_frame(
    conn: Connection,
    *,
    start: datetime,
    end: datetime,
    by: Sequence[str],
    fleet: str | None = None,
    privacy: PrivacySettings | None = None,
    max_segments: int = 5_000,
    max_groups: int = 500,
) -> pd.DataFrame:
    """Metrics per segment of dimensions ``by`` over ``[start, end)``: one row per segment.

    Above ``max_segments`` stored segments the rollups are added up in SQL per group
    of ``by`` (see :mod:`analytics.units`): the ``max_groups`` groups with the most
    attempts, the rest as ``__other__``.

    Columns: the ``by`` dimensions, then :data:`analytics.metrics.METRICS` (attempts,
    requests, error_rate, fallback_rate, cloud_escalation_rate, latency_p50_ms,
    latency_p95_ms, latency_p99_ms, confidence_mean, quality_mean,
    privacy_violations, energy_mj_mean, thermal_share, offline_share, ...). Only
    segments with attempts in the period are listed.
    """
    if count_segments(conn, fleet=fleet) > max_segments:
        watermark = read_watermark(conn)
        span = {
            "start": to_unix(start),
            "end": to_unix(end),
            "fleet": fleet,
            "watermark": watermark,
        }
        units = plan_units(conn, by=by, max_groups=max_groups, **span)  # type: ignore[arg-type]
        segments = units.frame
        per_segment = read_unit_aggregates(conn, units, **span)  # type: ignore[arg-type]
    else:
        segments = read_segments(conn, fleet=fleet)
        per_segment = read_aggregates(conn, start=to_unix(start), end=to_unix(end), fleet=fleet)
    groups = grouping(segments, by)
    segmented = segment_by(
        per_segment,
        segments,
        groups,
        allowed_tiers=privacy.allowed_tiers if privacy is not None else None,
    )
    metrics = segment_metrics(segmented).reset_index(drop=True)
    frame = pd.concat([segmented.keys.reset_index(drop=True), metrics], axis=1)
    return frame[frame["attempts"] > 0].reset_index(drop=True)


def pick_step(span: timedelta, *, points: int = 240) -> int:
    """The smallest of :data:`STEPS` that draws ``span`` in at most ``points`` buckets."""
    seconds = span.total_seconds()
    for step in STEPS:
        if seconds / step <= points:
            return step
    return STEPS[-1]


def segment_series(
    conn: Connection,
    *,
    key: Mapping[str, str],
    start: datetime,
    end: datetime,
    step: int | None = None,
    shadow: bool = False,
) -> pd.DataFrame:
    """One segment's metrics per time bucket over ``[start, end)``.

    ``key`` holds dimension values (e.g. ``{"tier": "device", "task": "photo-tag"}``;
    an empty key is everything). Buckets are ``step`` seconds long (chosen by
    :func:`pick_step` when ``None``) and aligned to the epoch; the index is each
    bucket's UTC start, and every bucket in the range is present (zero attempts
    and NaN metrics when empty). Privacy violations are those recorded at ingest.
    """
    unknown = [d for d in key if d not in SEGMENT_DIMENSIONS]
    if unknown:
        raise ValueError(f"unknown dimension {unknown[0]!r}")
    step = step or pick_step(end - start)
    segments = read_segments(conn, fleet=key.get("fleet"))
    for dim, value in key.items():
        segments = segments[segments[dim] == value]
    start_s = to_unix(start) // step * step
    end_s = to_unix(end)
    labels = np.arange(start_s, end_s, step, dtype=np.int64)
    ids = segments.index.to_list()
    if ids:
        per_bucket = read_buckets(
            conn, start=start_s, end=end_s, step=step, segment_ids=ids, shadow=shadow
        )
    else:
        per_bucket = aggregates.empty()
    per_bucket = aggregates.reindex(per_bucket, labels)
    local_requests = None
    if "tier" not in key:
        local_ids = segments.index[segments["tier"].isin(LOCAL_TIERS)].to_list()
        local = (
            read_buckets(conn, start=start_s, end=end_s, step=step, segment_ids=local_ids)
            if local_ids and not shadow
            else aggregates.empty()
        )
        local_requests = aggregates.reindex(local, labels).column("requests")
    frame = compute_metrics(per_bucket, local_requests=local_requests)
    frame.index = pd.DatetimeIndex([from_unix(int(s)) for s in labels], name="start")
    return frame
