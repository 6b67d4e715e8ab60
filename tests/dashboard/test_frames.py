"""Analytics results reshaped for display: exact values on small hand-made results."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from dashboard import frames
from dashboard.frames import KeyFigure
from tests.dashboard import fakes


def test_finding_text_names_the_sub_segments_that_explain_it() -> None:
    assert frames.finding_text(fakes.ERROR_FINDING) == (
        "error rate 7.5% vs 3.0% baseline (+150%), p<0.001; explained by model_version=2.2.0 (95%)"
    )
    assert frames.finding_text(fakes.LATENCY_FINDING) == fakes.LATENCY_FINDING.explanation


@pytest.mark.parametrize(
    ("value", "baseline", "text"),
    [
        (0.075, 0.03, "+150%"),  # worse
        (0.02, 0.05, "-60%"),  # better
        (1.001, 1.0, "±0%"),  # rounds to nothing
        (0.1, 0.0, ""),  # a move from zero has no relative size
        (None, 0.1, ""),  # nothing in the window
    ],
)
def test_change(value: float | None, baseline: float | None, text: str) -> None:
    assert frames.format_change(frames.relative_change(value, baseline)) == text


def test_tier_summaries_one_per_tier_worst_findings_first() -> None:
    summaries = frames.tier_summaries(fakes.report([fakes.device_segment(), fakes.cloud_segment()]))
    assert [(s.tier, s.status, s.attempts) for s in summaries] == [
        ("device", "degraded", 480),
        ("edge", "insufficient_data", 0),  # no attempts in the window
        ("cloud", "ok", 267),
    ]
    device = summaries[0]
    # the better-direction finding is not a reason for the status
    assert device.findings == [
        (
            "degraded",
            "error rate 7.5% vs 3.0% baseline (+150%), p<0.001; "
            "explained by model_version=2.2.0 (95%)",
        ),
        ("warn", "p99 latency 200 ms vs 80 ms baseline (+150%), p=0.001"),
    ]
    assert device.figures == [
        KeyFigure("attempts_per_hour", "attempts / hour", "480", "80", "+500%"),
        KeyFigure("error_rate", "error rate", "7.5%", "3.0%", "+150%", "degraded"),
        KeyFigure("fallback_rate", "fallback rate", "2.0%", "5.0%", "-60%"),
        KeyFigure("latency_p95_ms", "p95 latency", "158 ms", "65 ms", "+143%", "warn"),
        KeyFigure("quality_mean", "mean quality", "0.837", "0.879", "-5%"),
        KeyFigure("privacy_violations", "privacy violations", "0", "0", ""),
    ]
    cloud = summaries[2]
    assert cloud.figures[-1] == KeyFigure(
        "privacy_violations", "privacy violations", "2", "0", "", "degraded"
    )
    assert cloud.figures[1] == KeyFigure("error_rate", "error rate", "n/a", "n/a", "")


def test_tier_summaries_take_degradations_of_one_task_from_the_detail() -> None:
    # the device tier as a whole is fine; one of its tasks is not
    tier_level = fakes.report(
        [
            dataclasses.replace(fakes.device_segment(), status="ok", findings=[]),
            fakes.cloud_segment(),
        ]
    )
    photo_tag = fakes.device_segment(task="photo-tag")
    photo_tag = dataclasses.replace(photo_tag, metrics={**photo_tag.metrics, "attempts": 120})
    detail = fakes.report(
        [
            photo_tag,
            dataclasses.replace(fakes.cloud_segment(), key={"tier": "cloud", "task": "asr"}),
        ],
        by=("tier", "task"),
    )
    device, edge, cloud = frames.tier_summaries(tier_level, detail)
    assert (device.status, edge.status, cloud.status) == ("degraded", "insufficient_data", "ok")
    assert device.findings[0] == (
        "degraded",
        "task=photo-tag: error rate 7.5% vs 3.0% baseline (+150%), p<0.001; "
        "explained by model_version=2.2.0 (95%)",
    )
    # the key figures stay those of the whole tier
    assert device.figures == frames.tier_summaries(tier_level)[0].figures
    # a tier's only task is the tier itself: nothing is repeated
    whole = fakes.report([fakes.device_segment()])
    only_task = fakes.report([fakes.device_segment(task="photo-tag")], by=("tier", "task"))
    assert (
        frames.tier_summaries(whole, only_task)[0].findings
        == frames.tier_summaries(whole)[0].findings
    )


def test_tier_summaries_need_a_report_split_by_tier() -> None:
    with pytest.raises(ValueError, match="split by tier"):
        frames.tier_summaries(fakes.report([], by=("task",)))


def test_fleet_escalation_divides_escalations_by_requests_started_locally() -> None:
    figure = frames.fleet_escalation(
        fakes.report([fakes.device_segment(), fakes.edge_segment(), fakes.cloud_segment()])
    )
    # window 27 / (480 + 240) = 3.75%; baseline 30 / (1920 + 960) = 1.04%
    assert figure == KeyFigure(
        "cloud_escalation_rate", "cloud escalation rate", "3.8%", "1.0%", "+260%"
    )


def test_fleet_escalation_without_local_requests() -> None:
    figure = frames.fleet_escalation(fakes.report([fakes.cloud_segment()]))
    assert (figure.value, figure.baseline, figure.change) == ("n/a", "n/a", "")


def test_segment_rows_worst_first_with_what_the_detail_panel_needs() -> None:
    rows = frames.segment_rows(
        fakes.report(
            [fakes.edge_segment(), fakes.device_segment(device_model="")],
            by=("tier", "device_model"),
        )
    )
    assert [r["id"] for r in rows] == ["tier=device|device_model=", "tier=edge"]
    device = rows[0]
    assert {k: device[k] for k in ("status", "status_rank", "tier", "device_model")} == {
        "status": "✕ degraded",
        "status_rank": 0,
        "tier": "device",
        "device_model": "-",
    }
    assert (device["attempts"], device["error_rate"], device["findings"]) == (480, 0.075, 2)
    assert device["finding"] == "error rate 7.5% vs 3.0% baseline (+150%), p<0.001"
    assert device["key"] == {"tier": "device", "device_model": ""}
    assert device["baseline"]["latency_p95_ms"] == 65.0
    assert [d["severity"] for d in device["details"]] == ["degraded", "warn", "ok"]
    edge = rows[1]
    assert (edge["status"], edge["findings"], edge["finding"]) == ("✓ ok", 0, "")


def test_baseline_band_is_the_usual_range_of_the_baseline_buckets() -> None:
    frame = fakes.series(
        {
            "error_rate": [0.01, 0.02, 0.03, 0.04, 0.05, 0.5],
            "attempts": [10, 10, 10, 10, 0, 10],
        }
    )
    # the last bucket is the window; the fifth had no attempts
    low, high = frames.baseline_band(
        frame, "error_rate", baseline_end=frame.index[5].to_pydatetime()
    )
    assert (round(low, 6), round(high, 6)) == (0.013, 0.037)
    assert frames.baseline_band(frame, "error_rate", baseline_end=frame.index[2]) is None


def test_tier_latency_frame_has_the_cloud_once_per_task() -> None:
    frame = frames.tier_latency_frame(
        [fakes.comparison(tier="edge"), fakes.comparison(tier="device")]
    )
    assert frame.to_dict("records") == [
        {
            "task": "photo-tag",
            "tier": "device",
            "attempts": 480,
            "p50": 46.0,
            "p95": 158.0,
            "p99": 200.0,
        },
        {
            "task": "photo-tag",
            "tier": "edge",
            "attempts": 480,
            "p50": 46.0,
            "p95": 158.0,
            "p99": 200.0,
        },
        {
            "task": "photo-tag",
            "tier": "cloud",
            "attempts": 267,
            "p50": 146.0,
            "p95": 235.0,
            "p99": 280.0,
        },
    ]


def test_tier_quality_frame_uses_shadow_agreement_when_no_quality_is_reported() -> None:
    from dataclasses import replace

    from analytics.tiers import ShadowAgreement

    shadowed = replace(
        fakes.comparison(),
        local=fakes.metrics(attempts=10),
        shadow=ShadowAgreement(pairs=50, values=50, mean=0.8, ci_low=0.75, ci_high=0.85),
        quality_source="shadow_agreement",
    )
    assert frames.tier_quality_frame([shadowed]).to_dict("records") == [
        {
            "task": "photo-tag",
            "tier": "device",
            "quality": 0.8,
            "low": 0.75,
            "high": 0.85,
            "source": "shadow agreement",
        },
        {
            "task": "photo-tag",
            "tier": "cloud",
            "quality": 0.93,
            "low": 0.92,
            "high": 0.94,
            "source": "reported",
        },
    ]


def test_tier_differences_frame_formats_difference_interval_and_p() -> None:
    frame = frames.tier_differences_frame([fakes.comparison()])
    assert frame.to_dict("records") == [
        {
            "task": "photo-tag",
            "tier": "device",
            "metric": "p95 latency",
            "local": "158 ms",
            "cloud": "235 ms",
            "difference": "-77 ms [-112 ms, -55 ms]",
            "p": "p<0.001",
        },
        {
            "task": "photo-tag",
            "tier": "device",
            "metric": "error rate",
            "local": "7.5%",
            "cloud": "1.1%",
            "difference": "+6.4% [+3.4%, +9.2%]",
            "p": "p<0.001",
        },
    ]


def test_tasks_of_several_fleets_are_named_with_their_fleet() -> None:
    from dataclasses import replace

    other = replace(fakes.comparison(), fleet="lab")
    frame = frames.tier_latency_frame([fakes.comparison(), other])
    assert sorted(set(frame["task"])) == ["lab/photo-tag", "shop/photo-tag"]


def test_fallback_reasons_frame_keeps_reasons_that_occur() -> None:
    reasons = {f"fallback_rate_{r}": [0.0, 0.0] for r in frames._REASONS}
    reasons["fallback_rate_timeout"] = [0.01, np.nan]
    frame = frames.fallback_reasons_frame({"device": fakes.series(reasons)})
    assert frame[["tier", "reason"]].drop_duplicates().to_dict("records") == [
        {"tier": "device", "reason": "timeout"}
    ]
    assert frame["rate"].tolist()[0] == 0.01 and np.isnan(frame["rate"].tolist()[1])
    assert frames.fallback_reasons_frame({}).columns.tolist() == ["start", "tier", "reason", "rate"]


def test_escalation_frame_is_long_form_per_task() -> None:
    frame = frames.escalation_frame(
        {
            "a": fakes.series({"cloud_escalation_rate": [0.1, 0.2]}),
            "b": fakes.series({"cloud_escalation_rate": [0.3, 0.4]}),
        }
    )
    assert list(zip(frame["task"], frame["rate"], strict=True)) == [
        ("a", 0.1),
        ("a", 0.2),
        ("b", 0.3),
        ("b", 0.4),
    ]


def test_version_frames() -> None:
    drift = fakes.drift()
    assert frames.version_share_frame(drift).to_dict("records") == [
        {
            "version": "2.2.0",
            "devices": 5,
            "share": 0.25,
            "attempts": 120,
            "first_seen": "2025-01-02 11:01 UTC",
            "role": "newest",
        },
        {
            "version": "2.1.0",
            "devices": 15,
            "share": 0.75,
            "attempts": 867,
            "first_seen": "2025-01-01 00:00 UTC",
            "role": "previous dominant",
        },
    ]
    canary = frames.canary_frame(drift)
    assert canary[["metric", "value", "reference_value"]].to_dict("records") == [
        {"metric": "error_rate", "value": 0.225, "reference_value": 0.025},
        {"metric": "fallback_rate", "value": 0.125, "reference_value": 0.025},
        {"metric": "latency_p95_ms", "value": 193.0, "reference_value": 60.0},
        {"metric": "quality_mean", "value": 0.704, "reference_value": 0.881},
    ]
    assert set(canary["status"]) == {"degraded"} and set(canary["reference"]) == {"2.1.0"}
    assert frames.stuck_frame(drift).to_dict("records") == [
        {
            "device_id": "galaxy-a14-09",
            "device_model": "galaxy-a14",
            "app_version": "5.1",
            "model_version": "2.1.0",
            "version_since": "2025-01-01 00:00 UTC",
            "last_seen": "2025-01-02 12:00 UTC",
        }
    ]


def test_display_records_turn_times_mappings_and_nulls_into_text() -> None:
    frame = pd.DataFrame(
        {
            "started_at": [pd.Timestamp("2025-01-02T11:30:00Z"), pd.NaT],
            "labels": [{"tier": "device", "severity": "critical"}, {}],
            "last_status_code": pd.array([200, None], dtype="Int64"),
            "value": [0.5, np.nan],
            "active": [np.bool_(True), np.bool_(False)],
            "created_at": [1_735_817_400, 1_735_817_400],
        }
    )
    assert frames.display_records(frame) == [
        {
            "started_at": "2025-01-02 11:30 UTC",
            "labels": "tier=device, severity=critical",
            "last_status_code": 200,
            "value": 0.5,
            "active": True,
            "created_at": "2025-01-02 11:30 UTC",
        },
        {
            "started_at": None,
            "labels": "",
            "last_status_code": None,
            "value": None,
            "active": False,
            "created_at": "2025-01-02 11:30 UTC",
        },
    ]


def test_describe_key() -> None:
    assert (
        frames.describe_key({"tier": "cloud", "device_model": ""}) == "tier=cloud, device_model=-"
    )
    assert frames.describe_key({}) == "all attempts"
    assert frames.segment_id({}) == "all"
