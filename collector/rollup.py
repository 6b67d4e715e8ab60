"""Fold newly stored attempts into per-minute segment rollups and device states.

Pure functions: rows in, the values to add to the ``rollups`` and ``devices``
tables out. Only attempts that were actually inserted (not duplicates) are
folded, so a re-sent span never counts twice; every attempt lands in the minute
of its own start time, however late it arrives.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from collector import buckets
from collector.normalise import AttemptRow
from collector.schema import FALLBACK_REASONS

SegmentKey = tuple[str, ...]
_THROTTLED = frozenset({"serious", "critical"})
_REASON_COLUMNS = {reason: f"fallback_{reason}" for reason in FALLBACK_REASONS}
#: Rollup columns that merge by addition, in table order (histograms excluded).
SUM_COLUMNS = (
    "attempts",
    "requests",
    "errors",
    "fallbacks",
    *_REASON_COLUMNS.values(),
    "fallback_other",
    "cloud_escalations",
    "sensitive",
    "privacy_violations",
    "offline",
    "thermal_throttled",
    "latency_ms_sum",
    "confidence_count",
    "confidence_sum",
    "confidence_sq_sum",
    "quality_count",
    "quality_sum",
    "quality_sq_sum",
    "energy_count",
    "energy_mj_sum",
    "energy_mj_sq_sum",
    "input_tokens_sum",
    "output_tokens_sum",
)
HISTOGRAM_COLUMNS = ("latency_hist", "confidence_hist")


def segment_key(row: AttemptRow) -> SegmentKey:
    """The segment an attempt belongs to, in ``SEGMENT_DIMENSIONS`` order ('' when unknown)."""
    return (
        row.fleet,
        row.tier,
        row.task,
        row.model or "",
        row.model_version or "",
        row.device_model or "",
        row.region or "",
        row.app_version or "",
        row.node or "",
    )


def is_request_start(row: AttemptRow) -> bool:
    """Whether an attempt starts a request: the first served-path attempt of its trace.

    ``hybrid.attempt`` numbers the tiers tried; a span without it is taken as a
    request of its own.
    """
    return not row.shadow and (row.attempt is None or row.attempt == 1)


def build_rollups(rows: Sequence[AttemptRow], segment_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Rollup rows to add for ``rows`` (with segment ids): one per (segment, minute, shadow)."""
    groups: dict[tuple[int, int, bool], dict[str, Any]] = {}
    latency_hists: dict[tuple[int, int, bool], dict[int, int]] = {}
    confidence_hists: dict[tuple[int, int, bool], dict[int, int]] = {}
    for row, segment_id in zip(rows, segment_ids, strict=True):
        minute = row.start_time_unix_nano // 60_000_000_000 * 60
        key = (segment_id, minute, row.shadow)
        acc = groups.get(key)
        if acc is None:
            acc = dict.fromkeys(SUM_COLUMNS, 0)
            acc["segment_id"], acc["minute"], acc["shadow"] = key
            groups[key] = acc
            latency_hists[key] = {}
            confidence_hists[key] = {}
        acc["attempts"] += 1
        if is_request_start(row):
            acc["requests"] += 1
        if row.error:
            acc["errors"] += 1
        if row.fallback:
            acc["fallbacks"] += 1
            acc[_REASON_COLUMNS.get(row.fallback_reason or "", "fallback_other")] += 1
        elif row.tier == "cloud" and not row.shadow and (row.attempt or 1) >= 2:
            acc["cloud_escalations"] += 1
        if row.privacy == "sensitive":
            acc["sensitive"] += 1
        if row.privacy_violation:
            acc["privacy_violations"] += 1
        if row.network == "offline":
            acc["offline"] += 1
        if row.thermal in _THROTTLED:
            acc["thermal_throttled"] += 1
        acc["latency_ms_sum"] += row.latency_ms
        hist = latency_hists[key]
        bucket = buckets.latency_bucket(row.latency_ms)
        hist[bucket] = hist.get(bucket, 0) + 1
        if row.confidence is not None:
            acc["confidence_count"] += 1
            acc["confidence_sum"] += row.confidence
            acc["confidence_sq_sum"] += row.confidence * row.confidence
            chist = confidence_hists[key]
            cbucket = buckets.confidence_bucket(row.confidence)
            chist[cbucket] = chist.get(cbucket, 0) + 1
        if row.quality is not None:
            acc["quality_count"] += 1
            acc["quality_sum"] += row.quality
            acc["quality_sq_sum"] += row.quality * row.quality
        if row.energy_mj is not None:
            acc["energy_count"] += 1
            acc["energy_mj_sum"] += row.energy_mj
            acc["energy_mj_sq_sum"] += row.energy_mj * row.energy_mj
        if row.input_tokens is not None:
            acc["input_tokens_sum"] += row.input_tokens
        if row.output_tokens is not None:
            acc["output_tokens_sum"] += row.output_tokens
    out = []
    # A fixed order keeps concurrent writers from locking rollup rows in opposite orders.
    for key in sorted(groups):
        acc = groups[key]
        acc["latency_hist"] = buckets.encode(latency_hists[key])
        acc["confidence_hist"] = buckets.encode(confidence_hists[key])
        out.append(acc)
    return out


def build_devices(rows: Iterable[AttemptRow]) -> list[dict[str, Any]]:
    """The device states to merge for ``rows``: per (fleet, device, model), the latest seen."""
    devices: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows:
        if not row.device_id or row.shadow:
            continue
        seen = row.start_time_unix_nano // 1_000_000_000
        key = (row.fleet, row.device_id, row.model or "")
        state = devices.get(key)
        version = row.model_version or ""
        if state is None:
            devices[key] = {
                "fleet": row.fleet,
                "device_id": row.device_id,
                "model": row.model or "",
                "model_version": version,
                "device_model": row.device_model or "",
                "app_version": row.app_version or "",
                "first_seen": seen,
                "last_seen": seen,
                "version_since": seen,
            }
            continue
        state["first_seen"] = min(state["first_seen"], seen)
        if seen >= state["last_seen"]:
            if version != state["model_version"]:
                state["version_since"] = seen
            state["last_seen"] = seen
            state["model_version"] = version
            state["device_model"] = row.device_model or ""
            state["app_version"] = row.app_version or ""
        elif version == state["model_version"]:
            state["version_since"] = min(state["version_since"], seen)
    return [devices[key] for key in sorted(devices)]
