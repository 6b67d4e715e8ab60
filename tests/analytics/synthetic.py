"""Synthetic fleets for analytics tests: segments with known behaviour, as rollups or attempts.

A :class:`Profile` says how a segment behaves (attempts, error and fallback rates,
latency, confidence, quality). :func:`sample_aggregates` draws the sums and
histograms a period of such a segment would roll up to, directly from their
distributions (binomial counts, multinomial histograms), so that fleets of
millions of attempts cost microseconds. :func:`attempt_rows` draws raw attempts
for tests that go through the collector's real write path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analytics.aggregates import Aggregates
from analytics.histograms import CONFIDENCE_BINS, LATENCY_BINS, LATENCY_OFFSET
from collector import buckets
from collector.normalise import AttemptRow
from collector.rollup import SUM_COLUMNS
from collector.schema import SEGMENT_DIMENSIONS

_EDGES = np.array(
    [buckets.GAMMA ** (LATENCY_OFFSET + j) for j in range(-1, LATENCY_BINS)], dtype=float
)


@dataclass(frozen=True)
class Profile:
    """How one segment behaves over one period."""

    attempts: int
    error_rate: float = 0.04
    fallback_rate: float = 0.08
    latency_median_ms: float = 120.0
    latency_sigma: float = 0.5
    confidence_mean: float = 0.8
    quality_mean: float = 0.8
    quality_share: float = 0.3
    concentration: float = 20.0
    energy_mj_mean: float = 0.0
    energy_mj_sd: float = 0.0
    thermal_share: float = 0.0
    #: Devices the attempts come from (0: every attempt independent of the others). Real
    #: attempts come in bursts from few devices, some on a slow network, and those few
    #: move a tail percentile together.
    sources: int = 0
    #: Share of the sources on a slow network, and how much slower their attempts are.
    slow_sources: float = 0.0
    slow_factor: float = 1.0
    #: Spread (log-normal sigma) of how many attempts each source makes.
    source_activity_sigma: float = 1.0

    def degraded(self, **changes: float) -> Profile:
        """The same profile with some values changed."""
        return dataclasses.replace(self, **changes)


def segment_key(**values: str) -> dict[str, str]:
    """A full segment key with defaults for the dimensions not given."""
    base = {
        "fleet": "fleet-a",
        "tier": "device",
        "task": "photo-tag",
        "model": "tagger",
        "model_version": "2.1.0",
        "device_model": "",
        "region": "eu",
        "app_version": "5.0",
        "node": "",
    }
    base.update(values)
    return base


def segments_frame(keys: Sequence[Mapping[str, str]]) -> pd.DataFrame:
    """The store's segments table for ``keys``: ids 1..n, one column per dimension."""
    frame = pd.DataFrame([dict(k) for k in keys], columns=list(SEGMENT_DIMENSIONS))
    frame.index = pd.RangeIndex(1, len(keys) + 1, name="id")
    return frame


def _beta(mean: float, concentration: float) -> tuple[float, float]:
    return mean * concentration, (1 - mean) * concentration


def _slow_attempts(p: Profile, rng: np.random.Generator) -> int:
    """How many of the period's attempts come from sources on a slow network."""
    if p.sources <= 0 or p.slow_sources <= 0 or p.attempts == 0:
        return 0
    activity = rng.lognormal(0.0, p.source_activity_sigma, p.sources)
    per_source = rng.multinomial(p.attempts, activity / activity.sum())
    return int(per_source[rng.random(p.sources) < p.slow_sources].sum())


def _latency_histogram(
    n: int, median_ms: float, sigma: float, rng: np.random.Generator
) -> np.ndarray:
    """``n`` log-normal latencies counted in the store's histogram buckets."""
    cdf = stats.norm.cdf((np.log(_EDGES) - np.log(median_ms)) / sigma)
    probs = np.diff(cdf)
    probs[0] += cdf[0]
    probs[-1] += 1 - cdf[-1]
    return rng.multinomial(n, probs / probs.sum())


def sample_aggregates(profiles: Mapping[int, Profile], rng: np.random.Generator) -> Aggregates:
    """Per-segment-id aggregates of one period, drawn from each segment's profile."""
    ids = sorted(profiles)
    sums = np.zeros((len(ids), len(SUM_COLUMNS)))
    latency = np.zeros((len(ids), LATENCY_BINS), dtype=np.int64)
    confidence = np.zeros((len(ids), CONFIDENCE_BINS), dtype=np.int64)
    column = {name: i for i, name in enumerate(SUM_COLUMNS)}
    for row, segment in enumerate(ids):
        p = profiles[segment]
        n = p.attempts
        values = dict.fromkeys(SUM_COLUMNS, 0.0)
        values["attempts"] = n
        values["requests"] = n
        values["errors"] = rng.binomial(n, p.error_rate)
        fallbacks = rng.binomial(n, p.fallback_rate)
        values["fallbacks"] = fallbacks
        values["fallback_low_confidence"] = fallbacks
        sigma = p.latency_sigma
        slow = _slow_attempts(p, rng)
        latency[row] = _latency_histogram(n - slow, p.latency_median_ms, sigma, rng)
        slow_median = p.latency_median_ms * p.slow_factor
        if slow:
            latency[row] += _latency_histogram(slow, slow_median, sigma, rng)
        values["latency_ms_sum"] = ((n - slow) * p.latency_median_ms + slow * slow_median) * np.exp(
            sigma * sigma / 2
        )
        a, b = _beta(p.confidence_mean, p.concentration)
        edges = np.linspace(0, 1, CONFIDENCE_BINS + 1)
        cprobs = np.diff(stats.beta.cdf(edges, a, b))
        confidence[row] = rng.multinomial(n, cprobs / cprobs.sum())
        mids = (edges[:-1] + edges[1:]) / 2
        values["confidence_count"] = n
        values["confidence_sum"] = float(confidence[row] @ mids)
        values["confidence_sq_sum"] = float(confidence[row] @ (mids * mids))
        k = rng.binomial(n, p.quality_share)
        qa, qb = _beta(p.quality_mean, p.concentration)
        var = stats.beta.var(qa, qb)
        mean = rng.normal(p.quality_mean, np.sqrt(var / max(k, 1)))
        s2 = var * rng.chisquare(max(k - 1, 1)) / max(k - 1, 1)
        values["quality_count"] = k
        values["quality_sum"] = mean * k
        values["quality_sq_sum"] = (k - 1) * s2 + mean * mean * k
        if p.energy_mj_mean > 0:
            sd = p.energy_mj_sd
            e_mean = rng.normal(p.energy_mj_mean, sd / np.sqrt(n)) if n else 0.0
            e_s2 = sd * sd * rng.chisquare(max(n - 1, 1)) / max(n - 1, 1)
            values["energy_count"] = n
            values["energy_mj_sum"] = e_mean * n
            values["energy_mj_sq_sum"] = (n - 1) * e_s2 + e_mean * e_mean * n
        values["thermal_throttled"] = rng.binomial(n, p.thermal_share) if p.thermal_share else 0
        for name, value in values.items():
            sums[row, column[name]] = value
    return Aggregates(np.array(ids), sums, latency, confidence)


def attempt_rows(
    key: Mapping[str, str],
    profile: Profile,
    *,
    start_s: int,
    minutes: int,
    rng: np.random.Generator,
    device_ids: Sequence[str] = (),
) -> list[AttemptRow]:
    """Raw attempts of one segment spread evenly over ``minutes`` from ``start_s``."""
    n = profile.attempts
    starts = start_s * 1_000_000_000 + np.sort(rng.integers(0, minutes * 60_000_000_000, n))
    latency = rng.lognormal(np.log(profile.latency_median_ms), profile.latency_sigma, n)
    error = rng.random(n) < profile.error_rate
    fallback = rng.random(n) < profile.fallback_rate
    a, b = _beta(profile.confidence_mean, profile.concentration)
    confidence = rng.beta(a, b, n)
    qa, qb = _beta(profile.quality_mean, profile.concentration)
    quality = np.where(rng.random(n) < profile.quality_share, rng.beta(qa, qb, n), np.nan)
    trace_ids = rng.bytes(16 * n)
    span_ids = rng.bytes(8 * n)
    rows = []
    for i in range(n):
        rows.append(
            AttemptRow(
                trace_id=trace_ids[16 * i : 16 * i + 16],
                span_id=span_ids[8 * i : 8 * i + 8],
                parent_span_id=None,
                start_time_unix_nano=int(starts[i]),
                latency_ms=float(latency[i]),
                fleet=key["fleet"],
                tier=key["tier"],
                task=key["task"],
                model=key["model"] or None,
                model_version=key["model_version"] or None,
                attempt=1,
                route_reason="policy",
                fallback=bool(fallback[i]),
                fallback_reason="low_confidence" if fallback[i] else None,
                confidence=float(confidence[i]),
                quality=None if np.isnan(quality[i]) else float(quality[i]),
                shadow=False,
                privacy="normal",
                privacy_violation=False,
                network="online",
                energy_mj=5.0,
                thermal="nominal",
                quantization="int8",
                input_tokens=None,
                output_tokens=None,
                error=bool(error[i]),
                error_type="RuntimeError" if error[i] else None,
                service_name="app",
                app_version=key["app_version"] or None,
                device_id=device_ids[i % len(device_ids)] if device_ids else None,
                device_model=key["device_model"] or None,
                os_name=None,
                os_version=None,
                region=key["region"] or None,
                node=key["node"] or None,
                environment="test",
                extra=None,
            )
        )
    return rows
