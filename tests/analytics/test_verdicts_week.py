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
from tests.analytics.week import END, GROUPINGS, SCENARIOS, WINDOW, found, observe, touches

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
    return all(dim in by for dim in problem)


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
        assert tally["found"] >= 0.95 * tally["reports"], (name, by, tally)


def test_the_daily_rhythm_alone_flags_nothing(
    outcomes: dict[str, dict[tuple[str, ...], Counter[str]]],
) -> None:
    # the steady week: no segment flagged at the busiest hour, in any grouping, for any seed
    assert {by: t["flagged"] for by, t in outcomes["steady"].items()} == dict.fromkeys(GROUPINGS, 0)


def _findings(name: str, by: tuple[str, ...], seed: int = 0) -> dict[str, list]:  # type: ignore[type-arg]
    report = evaluate_health(
        *observe(SCENARIOS[name], seed=seed), by=by, fleet=None, settings=AnalyticsSettings()
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
