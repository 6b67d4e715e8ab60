"""Version drift: which model versions a fleet runs, how far behind it is, and canaries.

Per fleet and model: the share of active devices on each version (now, from the
device states; over time, from the attempts), the newest version, the skew (share
of active devices not on the newest), devices stuck on old versions after the
fleet moved on, how many versions are live, and the canary comparison: every
other version against the previous dominant version on the segments both run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from analytics import aggregates
from analytics.aggregates import Aggregates
from analytics.canary import shared_totals
from analytics.config import AnalyticsSettings
from analytics.durations import from_unix, to_unix
from analytics.findings import Finding, status_of
from analytics.judge import compare
from analytics.metrics import compute_metrics, metric_dict
from analytics.rollups import (
    read_aggregates,
    read_buckets,
    read_device_states,
    read_devices_per_bucket,
    read_segments,
)
from analytics.times import Time
from analytics.version_order import newest, version_key
from collector.schema import DEVICES

_STUCK_LISTED = 100


@dataclass(frozen=True)
class VersionShare:
    """One version of a model in a fleet.

    ``devices`` are the active devices on it, ``share`` their share of all active
    devices, and ``attempts`` its attempts in the window.
    """

    version: str
    devices: int
    share: float | None
    attempts: int
    first_seen: Time | None


@dataclass(frozen=True)
class StuckDevice:
    """An active device left on an old version after the fleet moved on."""

    device_id: str
    device_model: str
    app_version: str
    model_version: str
    version_since: Time
    last_seen: Time


@dataclass(frozen=True)
class CanaryComparison:
    """One version against the previous dominant version on the segments both run."""

    version: str
    reference_version: str
    status: str
    segments: int
    metrics: dict[str, float | int | None]
    reference_metrics: dict[str, float | int | None]
    findings: list[Finding] = field(default_factory=list)


@dataclass(frozen=True)
class VersionDrift:
    """How far one fleet's model has drifted across versions.

    ``skew`` is the share of active devices not on ``newest_version``;
    ``dominant_version`` the version with the most attempts in the baseline
    before the period (the one canaries are compared with).
    """

    fleet: str
    model: str
    newest_version: str | None
    dominant_version: str | None
    live_versions: int
    active_devices: int
    skew: float | None
    versions: list[VersionShare]
    stuck_devices: int
    stuck: list[StuckDevice]
    canaries: list[CanaryComparison]


class DeviceSummary(NamedTuple):
    """What one fleet's devices say of one model's versions.

    ``shares`` are ordered newest first; ``stuck`` lists at most 100 of the
    ``stuck_count`` devices left on old versions after the fleet moved on.
    """

    newest: str | None
    active: int
    skew: float | None
    shares: list[VersionShare]
    stuck: list[StuckDevice]
    stuck_count: int


def summarise_devices(
    devices: pd.DataFrame, *, now: int, settings: AnalyticsSettings
) -> DeviceSummary:
    """Newest version, active devices, skew, shares per version and stuck devices (pure).

    ``devices`` are one fleet's states for one model.
    """
    active = devices[devices["last_seen"] >= now - settings.active_hours * 3600]
    versions = sorted(set(devices["model_version"]), key=version_key, reverse=True)
    top = newest(list(active["model_version"])) or newest(versions)
    counts = active["model_version"].value_counts()
    total = len(active)
    shares = []
    for version in versions:
        on = devices[devices["model_version"] == version]
        shares.append(
            VersionShare(
                version=version,
                devices=int(counts.get(version, 0)),
                share=float(counts.get(version, 0)) / total if total else None,
                attempts=0,
                first_seen=from_unix(int(on["version_since"].min())) if len(on) else None,
            )
        )
    skew = float((active["model_version"] != top).mean()) if total else None
    stuck_rows = active.iloc[0:0]
    if top is not None and total:
        on_top = devices[devices["model_version"] == top]
        top_since = int(on_top["version_since"].min()) if len(on_top) else now
        moved_on = counts.get(top, 0) / total >= settings.moved_on_share
        if moved_on and now - top_since >= settings.stuck_after_hours * 3600:
            stuck_rows = active[active["model_version"] != top].sort_values("version_since")
    stuck = [
        StuckDevice(
            device_id=str(r.device_id),
            device_model=str(r.device_model),
            app_version=str(r.app_version),
            model_version=str(r.model_version),
            version_since=from_unix(int(r.version_since)),
            last_seen=from_unix(int(r.last_seen)),
        )
        for r in stuck_rows.head(_STUCK_LISTED).itertuples()
    ]
    return DeviceSummary(top, total, skew, shares, stuck, len(stuck_rows))


def canary_comparisons(
    segments: pd.DataFrame,
    window: Aggregates,
    *,
    dominant: str,
    settings: AnalyticsSettings,
    fleet: str | None = None,
) -> list[CanaryComparison]:
    """Every version newer than ``dominant`` against it, on the strata both run (pure).

    ``segments`` are one fleet's segments of one model (index id); ``window`` the
    per-segment-id aggregates of the period. A version is only ever compared with
    an earlier one, on the strata (:data:`analytics.canary.STRATA`) where both have
    attempts, so a rollout to faster devices does not pass for a faster model.
    """
    rules = settings.for_fleet(fleet)
    info = segments.reindex(window.labels)
    active = info[window.column("attempts") > 0]
    ids = {str(v): rows.index.to_numpy() for v, rows in active.groupby("model_version")}
    if dominant not in ids:
        return []
    out = []
    newer = [v for v in ids if version_key(v) > version_key(dominant)]
    for version in sorted(newer, key=version_key, reverse=True):
        mine, theirs, shared = shared_totals(segments, window, ids[version], ids[dominant])
        enough = (
            mine.column("attempts")[0] >= rules.min_attempts
            and theirs.column("attempts")[0] >= rules.min_attempts
        )
        findings = (
            compare(mine, theirs, label=f"model_version {dominant}", rules=rules, settings=settings)
            if enough
            else []
        )
        out.append(
            CanaryComparison(
                version=version,
                reference_version=dominant,
                status=status_of(findings, judged=enough),
                segments=shared,
                metrics=metric_dict(compute_metrics(mine).iloc[0]),
                reference_metrics=metric_dict(compute_metrics(theirs).iloc[0]),
                findings=findings,
            )
        )
    return out


def version_drift(
    conn: Connection,
    *,
    start: datetime,
    end: datetime,
    baseline_start: datetime,
    settings: AnalyticsSettings,
    fleet: str | None = None,
    model: str | None = None,
) -> list[VersionDrift]:
    """Version drift per fleet and model over ``[start, end)``, judged at ``end``.

    The previous dominant version is the one with the most attempts in
    ``[baseline_start, start)``; active devices are those seen within
    ``settings.active_hours`` before ``end``.
    """
    start_s, end_s, base_s = to_unix(start), to_unix(end), to_unix(baseline_start)
    segments = read_segments(conn, fleet=fleet)
    if model is not None:
        segments = segments[segments["model"] == model]
    segments = segments[segments["model"] != ""]
    window = read_aggregates(conn, start=start_s, end=end_s, fleet=fleet)
    before = read_aggregates(conn, start=base_s, end=start_s, fleet=fleet)
    devices = read_device_states(conn, fleet=fleet, model=model)
    out = []
    pairs = sorted(
        set(zip(segments["fleet"], segments["model"], strict=True))
        | set(zip(devices.get("fleet", []), devices.get("model", []), strict=True))
    )
    for fleet_name, model_name in pairs:
        if not model_name:
            continue
        mine = segments[(segments["fleet"] == fleet_name) & (segments["model"] == model_name)]
        ids = mine.index.to_numpy()
        win = aggregates.reindex(window, ids)
        base = aggregates.reindex(before, ids)
        per_version_window = _attempts_by_version(mine, win)
        per_version_before = _attempts_by_version(mine, base)
        states = (
            devices[(devices["fleet"] == fleet_name) & (devices["model"] == model_name)]
            if len(devices)
            else devices
        )
        summary = summarise_devices(
            states if len(states) else _no_devices(), now=end_s, settings=settings
        )
        shares = list(summary.shares)
        known = {s.version for s in shares}
        shares += [
            VersionShare(v, 0, None, 0, None) for v in per_version_window if v not in known and v
        ]
        shares = [
            VersionShare(
                s.version,
                s.devices,
                s.share,
                int(per_version_window.get(s.version, 0)),
                s.first_seen,
            )
            for s in sorted(shares, key=lambda s: version_key(s.version), reverse=True)
        ]
        top = summary.newest or newest([s.version for s in shares])
        dominant = (
            max(per_version_before, key=lambda v: per_version_before[v])
            if per_version_before
            else (
                max(per_version_window, key=lambda v: per_version_window[v])
                if per_version_window
                else None
            )
        )
        live = sum(1 for s in shares if s.devices > 0 or s.attempts > 0)
        canaries = (
            canary_comparisons(mine, win, dominant=dominant, settings=settings, fleet=fleet_name)
            if dominant
            else []
        )
        out.append(
            VersionDrift(
                fleet=fleet_name,
                model=model_name,
                newest_version=top,
                dominant_version=dominant,
                live_versions=live,
                active_devices=summary.active,
                skew=summary.skew,
                versions=shares,
                stuck_devices=summary.stuck_count,
                stuck=summary.stuck,
                canaries=canaries,
            )
        )
    return out


def _no_devices() -> pd.DataFrame:
    return pd.DataFrame(columns=[c.name for c in DEVICES.columns]).astype(
        {"last_seen": "int64", "version_since": "int64"}
    )


def _attempts_by_version(segments: pd.DataFrame, aggs: Aggregates) -> dict[str, int]:
    frame = pd.DataFrame(
        {"version": segments.reindex(aggs.labels)["model_version"], "n": aggs.column("attempts")}
    )
    sums = frame[frame["n"] > 0].groupby("version")["n"].sum()
    return {str(v): int(n) for v, n in sums.items()}


def version_series(
    conn: Connection,
    *,
    fleet: str,
    model: str,
    start: datetime,
    end: datetime,
    step: int,
) -> pd.DataFrame:
    """Per time bucket and version: active devices, attempts and their shares.

    Columns ``start`` (bucket start, UTC), ``version``, ``devices`` (distinct
    devices seen on it in the bucket, from raw attempts), ``device_share``,
    ``attempts`` (from rollups) and ``attempt_share``.
    """
    start_s, end_s = to_unix(start) // step * step, to_unix(end)
    segments = read_segments(conn, fleet=fleet)
    segments = segments[segments["model"] == model]
    rows = []
    for version, group in segments.groupby("model_version"):
        per_bucket = read_buckets(
            conn, start=start_s, end=end_s, step=step, segment_ids=group.index.to_list()
        )
        for label, n in zip(per_bucket.labels, per_bucket.column("attempts"), strict=True):
            rows.append((int(label), str(version), int(n)))
    attempts = pd.DataFrame(rows, columns=["bucket", "version", "attempts"])
    devices = read_devices_per_bucket(
        conn, fleet=fleet, model=model, start=start_s, end=end_s, step=step
    )
    frame = attempts.merge(devices, on=["bucket", "version"], how="outer").fillna(0)
    frame = frame[(frame["attempts"] > 0) | (frame["devices"] > 0)]
    frame["attempts"] = frame["attempts"].astype(np.int64)
    frame["devices"] = frame["devices"].astype(np.int64)
    totals = frame.groupby("bucket")[["attempts", "devices"]].transform("sum")
    frame["attempt_share"] = frame["attempts"] / totals["attempts"].where(totals["attempts"] > 0)
    frame["device_share"] = frame["devices"] / totals["devices"].where(totals["devices"] > 0)
    frame["start"] = [from_unix(int(b)) for b in frame["bucket"]]
    frame = frame.sort_values(["bucket", "version"]).reset_index(drop=True)
    return frame[["start", "version", "devices", "device_share", "attempts", "attempt_share"]]
