"""Accuracy over a week with a daily rhythm: real problems are found, the rhythm is not.

Each scenario of :mod:`tests.analytics.week` is drawn for many seeds and judged at
the busiest hour of its last day by several groupings (the README's examples
among them). A problem counts as found when a segment holding it carries the
finding it should (the metric and kind) in the worse direction; the false-flag
rate counts untouched segments marked warn or degraded. Silence is not judged in
groupings split by version (rollouts move traffic between versions), so those
groupings only count false flags for it.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from analytics.config import AnalyticsSettings
from analytics.health import evaluate_health
from tests.analytics.week import (
    END,
    GROUPINGS,
    SCENARIOS,
    WINDOW,
    Scenario,
    base_keys,
    found,
    observe,
    touches,
)

SEEDS = range(20)


@pytest.fixture(scope="module")
def outcomes() -> dict[str, dict[tuple[str, ...], Counter[str]]]:
    """Per scenario and grouping: reports, found, untouched segments and how many were flagged."""
    settings = AnalyticsSettings()
    out: dict[str, dict[tuple[str, ...], Counter[str]]] = {}
    for name, scenario in SCENARIOS.items():
        out[name] = {by: Counter() for by in GROUPINGS}
        for seed in SEEDS:
            observed, plan = observe(scenario, seed=seed, settings=settings)
            for by in GROUPINGS:
                report = evaluate_health(observed, plan, by=by, fleet=None, settings=settings)
                tally = out[name][by]
                tally["reports"] += 1
                tally["found"] += found(report, scenario)
                for segment in report.segments:
                    if touches(segment.key, scenario.problem):
                        continue
                    tally["untouched"] += 1
                    tally["flagged"] += segment.status in ("warn", "degraded")
    return out


def _judged_for(name: str, by: tuple[str, ...]) -> bool:
    problem = SCENARIOS[name].problem
    if not problem:
        return False
    if name == "silent":
        # A silent node shows inside every segment of its tier, except where versions split it.
        return "model_version" not in by
    # A node or hardware class in trouble shows inside its segment in every grouping.
    return True


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_untouched_segments_are_rarely_flagged(
    name: str, outcomes: dict[str, dict[tuple[str, ...], Counter[str]]]
) -> None:
    for by, tally in outcomes[name].items():
        # at most 5% of untouched segments flagged, in every grouping
        assert tally["flagged"] <= 0.05 * tally["untouched"], (name, by, tally)


@pytest.mark.parametrize("name", sorted(n for n in SCENARIOS if SCENARIOS[n].problem))
def test_real_problems_are_found(
    name: str, outcomes: dict[str, dict[tuple[str, ...], Counter[str]]]
) -> None:
    judged = [by for by in GROUPINGS if _judged_for(name, by)]
    assert judged, name
    for by in judged:
        tally = outcomes[name][by]
        # at least 95% of the injected problems found, in every grouping that can show them
        # (every grouping; silence is not judged in groupings split by version)
        assert tally["found"] >= 0.95 * tally["reports"], (name, by, tally)


def test_the_daily_rhythm_alone_flags_nothing(
    outcomes: dict[str, dict[tuple[str, ...], Counter[str]]],
) -> None:
    # the steady week: no segment flagged at the busiest hour, in any grouping, for any seed
    assert {by: t["flagged"] for by, t in outcomes["steady"].items()} == dict.fromkeys(GROUPINGS, 0)


def _findings(
    name: str | Scenario,
    by: tuple[str, ...],
    seed: int = 0,
    settings: AnalyticsSettings | None = None,
) -> dict[str, list]:  # type: ignore[type-arg]
    scenario = SCENARIOS[name] if isinstance(name, str) else name
    report = evaluate_health(
        *observe(scenario, seed=seed),
        by=by,
        fleet=None,
        settings=settings or AnalyticsSettings(),
    )
    return {
        ",".join(f"{k}={v}" for k, v in s.key.items()): s.findings
        for s in report.segments
        if s.findings
    }


def test_a_slow_drift_is_worded_as_one_and_dated() -> None:
    (drift,) = _findings("drift", ("tier", "device_model"))["tier=device,device_model=pixel-7"]
    assert (drift.kind, drift.metric, drift.severity, drift.baseline.kind) == (
        "drift",
        "quality_mean",
        "warn",
        "reference",
    )
    # e.g. "mean quality 0.738 vs 0.842 a week ago (-12%), p<0.001"
    assert drift.explanation.startswith("mean quality 0.7")
    assert " a week ago (-1" in drift.explanation
    # the same hours a week before the window
    assert drift.baseline.end - drift.baseline.start == WINDOW
    assert drift.baseline.start == END - WINDOW - timedelta(days=7)
    # shared by both tasks of the hardware class: no part named
    assert drift.attribution == () and "task" in drift.across
    assert drift.onset is not None and END - timedelta(days=8) <= drift.onset < END


def test_a_silent_node_shows_inside_its_tier() -> None:
    (silence,) = _findings("silent", ("tier",))["tier=edge"]
    assert (silence.kind, silence.subject, silence.severity) == (
        "silence",
        {"node": "edge-3"},
        "degraded",
    )
    assert silence.explanation.startswith("node=edge-3 far below its usual traffic; ")
    assert silence.baseline.kind == "seasonal"


def test_a_problem_at_the_peak_is_judged_against_the_usual_peak() -> None:
    found = _findings("peak", ("tier", "node"))["tier=edge,node=edge-2"]
    latency = next(f for f in found if f.metric.startswith("latency_"))
    assert (latency.kind, latency.baseline.kind, latency.direction) == (
        "change",
        "seasonal",
        "worse",
    )
    assert " usual at this hour (+" in latency.explanation


def test_a_node_in_trouble_at_the_peak_shows_inside_its_tier() -> None:
    # edge-2 is one of the edge tier's nodes: the tier's own p50 moves little
    shown = _findings("peak", ("tier",))["tier=edge"]
    inner = [f for f in shown if f.subject]
    assert inner, shown
    assert {f.subject["node"] for f in inner} == {"edge-2"}
    assert all(f.kind == "change" and f.direction == "worse" for f in inner)
    latency = next(f for f in inner if f.metric.startswith("latency_"))
    assert latency.baseline.kind == "seasonal"
    # e.g. "node=edge-2 p50 latency 127 ms vs 83.9 ms usual at this hour (+51%), p<0.001"
    assert latency.explanation.startswith("node=edge-2 " + latency.metric.split("_")[1])
    assert " usual at this hour (+" in latency.explanation
    # the finding names its sub-segment; it is not split again
    assert latency.attribution == () and latency.across == ()


def test_a_drifting_hardware_class_shows_inside_its_tier_and_is_dated() -> None:
    (drift,) = _findings("drift", ("tier",))["tier=device"]
    assert (drift.kind, drift.metric, drift.subject, drift.baseline.kind) == (
        "drift",
        "quality_mean",
        {"device_model": "pixel-7"},
        "reference",
    )
    assert drift.explanation.startswith("device_model=pixel-7 mean quality 0.7")
    assert " a week ago (-1" in drift.explanation
    assert drift.onset is not None and END - timedelta(days=8) <= drift.onset < END


def test_inner_tests_can_be_turned_off() -> None:
    settings = AnalyticsSettings(inner_dimensions=[])
    for name in ("peak", "drift"):
        for key, shown in _findings(name, ("tier",), settings=settings).items():
            assert not any(f.subject for f in shown), (name, key, shown)


def _whole_edge_slowed(key: dict[str, str], day: int, hour: int) -> dict[str, float]:
    if key["tier"] == "edge" and day == 0 and hour == END.hour - 1:
        return {"latency_median_ms_factor": 1.6}
    return {}


def test_a_change_the_whole_segment_shares_is_not_repeated_for_each_part() -> None:
    scenario = Scenario("whole-edge", base_keys(), _whole_edge_slowed, {"tier": "edge"})
    shown = _findings(scenario, ("tier",))["tier=edge"]
    latency = [f for f in shown if f.metric.startswith("latency_")]
    assert latency and all(f.subject == {} for f in latency), latency
    # every node slowed alike: the tier's finding says so rather than naming one
    assert "node" in latency[0].across


def test_parts_are_judged_only_against_a_calendar() -> None:
    # two days of history: the tier is judged by the slices of the day before, its
    # nodes and hardware classes are not judged on their own
    settings = AnalyticsSettings()
    observed, plan = observe(SCENARIOS["peak"], seed=0, settings=settings, history_days=2)
    report = evaluate_health(observed, plan, by=("tier",), fleet=None, settings=settings)
    assert report.baseline.kind == "preceding"
    inner = [f for s in report.segments for f in s.findings if f.subject and f.kind != "silence"]
    assert inner == []
