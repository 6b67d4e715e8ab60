"""Fixed analytics results for the read API to answer with, in place of stored data's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from analytics.attribution import Contribution
from analytics.baselines import Baseline
from analytics.findings import Finding, SegmentHealth
from analytics.health import HealthReport
from analytics.tiers import Difference, ShadowAgreement, TierComparison
from analytics.versions import CanaryComparison, StuckDevice, VersionDrift, VersionShare

END = datetime(2025, 1, 2, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)

#: A worse finding explained by a sub-segment (a null among its values).
WORSE = Finding(
    metric="error_rate",
    window_value=0.2,
    baseline_value=0.03,
    relative_change=5.666666666666667,
    p_value=1e-9,
    p_adjusted=2.5e-8,
    severity="degraded",
    explanation="error rate 20.0% vs 3.00% baseline (+567%), p<0.001",
    direction="worse",
    test="chi2_2x2",
    attribution=(
        Contribution(
            key={"device_model": "galaxy-a14"},
            window_value=0.31,
            baseline_value=None,
            share=0.875,
            window_attempts=120,
        ),
    ),
)
#: A better finding with an effect size and defaults left as they are.
BETTER = Finding(
    metric="latency_p95_ms",
    window_value=120.0,
    baseline_value=150.0,
    relative_change=-0.2,
    p_value=0.0004,
    p_adjusted=0.0016,
    severity="ok",
    explanation="p95 latency 120 ms vs 150 ms baseline (-20%), p=0.002",
    direction="better",
    test="chi2_histogram",
    effect_size=0.31,
)
#: A canary finding without p-values.
CANARY = Finding(
    metric="quality_mean",
    window_value=0.81,
    baseline_value=0.88,
    relative_change=None,
    p_value=None,
    p_adjusted=None,
    severity="warn",
    explanation="mean quality 0.810 vs 0.880 on model_version 2.1.0 (-8%), p=0.010",
    test="welch_t",
    reference="model_version 2.1.0",
)
#: A degraded segment (integer counts, float rates, a null) and one without enough data.
REPORT = HealthReport(
    segments=[
        SegmentHealth(
            key={"tier": "device", "device_model": "galaxy-a14"},
            status="degraded",
            metrics={"attempts": 480, "error_rate": 0.2, "latency_p95_ms": None},
            findings=[WORSE, BETTER],
            baseline_metrics={"attempts": 1920, "error_rate": 0.03, "latency_p95_ms": 150.0},
        ),
        SegmentHealth(
            key={"tier": "edge", "device_model": ""},
            status="insufficient_data",
            metrics={"attempts": 3, "error_rate": 0.0, "latency_p95_ms": 90.5},
        ),
    ],
    window_start=END - HOUR,
    window_end=END,
    baseline=Baseline("preceding", END - 25 * HOUR, END - HOUR),
    by=("tier", "device_model"),
    fleet="fleet-a",
    tests=12,
    fdr=0.05,
)
#: Times with and without microseconds, a version without devices, a stuck device.
DRIFT = VersionDrift(
    fleet="fleet-a",
    model="tagger",
    newest_version="2.2.0",
    dominant_version="2.1.0",
    live_versions=2,
    active_devices=20,
    skew=0.75,
    versions=[
        VersionShare("2.2.0", 5, 0.25, 422, END - HOUR + timedelta(seconds=1, microseconds=5)),
        VersionShare("2.1.0", 15, 0.75, 1639, END - 3 * HOUR),
        VersionShare("2.3.0-rc1", 0, None, 0, None),
    ],
    stuck_devices=1,
    stuck=[
        StuckDevice("d-17", "galaxy-a14", "5.1.0", "2.0.0", END - 48 * HOUR, END - HOUR / 2),
    ],
    canaries=[
        CanaryComparison(
            version="2.2.0",
            reference_version="2.1.0",
            status="warn",
            segments=2,
            metrics={"attempts": 422, "quality_mean": 0.81},
            reference_metrics={"attempts": 1639, "quality_mean": 0.88},
            findings=[CANARY],
        )
    ],
)
#: A local tier with shadows and a difference without values; one without data.
COMPARISONS = [
    TierComparison(
        fleet="fleet-a",
        task="photo-tag",
        tier="device",
        local={"attempts": 480, "quality_mean": None},
        cloud={"attempts": 96, "quality_mean": 0.93},
        differences=[
            Difference("latency_p95_ms", 80.0, 210.5, -130.5, -140.25, -120.0, 1e-12),
            Difference("quality_mean", None, 0.93, None, None, None, None),
        ],
        cloud_escalation_rate=0.1,
        shadow=ShadowAgreement(pairs=40, values=38, mean=0.9, ci_low=0.8, ci_high=0.95),
        quality_source="shadow_agreement",
    ),
    TierComparison(
        fleet="fleet-a",
        task="photo-tag",
        tier="edge",
        local={"attempts": 0},
        cloud={"attempts": 96},
    ),
]
#: A segment_series frame: an empty bucket has zero counts and NaN rates.
SERIES = pd.DataFrame(
    {
        "attempts": [3, 0],
        "errors": [1, 0],
        "error_rate": [1 / 3, np.nan],
        "latency_p95_ms": [80.0, np.nan],
    },
    index=pd.DatetimeIndex([END - 2 * HOUR, END - HOUR], name="start"),
)
#: A version_series frame: a bucket without devices has a NaN share.
VERSION_SERIES = pd.DataFrame(
    {
        "start": [END - 2 * HOUR, END - HOUR, END - HOUR],
        "version": ["2.1.0", "2.1.0", "2.2.0"],
        "devices": np.array([20, 0, 5], dtype=np.int64),
        "device_share": [1.0, np.nan, 1.0],
        "attempts": np.array([400, 7, 0], dtype=np.int64),
        "attempt_share": [1.0, 1.0, 0.0],
    }
)
