"""The routing what-if on hand-made bucket sums: every threshold's prediction, the current
threshold, coverage and the recommendation."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from analytics.advice import (
    Advice,
    Goals,
    LatencyObjective,
    NoAdviceData,
    advise,
    goals_from_objectives,
    infer_current,
    merged_goals,
    sum_distribution,
    wilson,
)
from analytics.advice_rollups import ADVICE_BUCKETS
from analytics.config import CostSettings, Price
from analytics.histograms import LATENCY_OFFSET
from collector.buckets import latency_bucket_value
from tests.analytics.advice_buckets import FLEET, bucket_sums, latency_row

CLOUD = CostSettings([Price(tier="cloud", per_call=1.0)])


def _advice(goals: Goals | None = None, **buckets: dict[str, float]) -> Advice:
    return advise(
        bucket_sums(**(buckets or FLEET)), task="photo-tag", fleet=None, tier="device",
        goals=goals or Goals(),
        prices=CLOUD,
    )  # fmt: skip


def test_wilson_interval() -> None:
    assert wilson(0, 0) == (0.0, 1.0)
    low, high = wilson(30, 40)
    assert (round(low, 4), round(high, 4)) == (0.5981, 0.8581)


def test_the_current_threshold_is_the_smallest_that_explains_the_most() -> None:
    governed = np.zeros(ADVICE_BUCKETS)
    fell = np.zeros(ADVICE_BUCKETS)
    governed[[20, 80]] = [10, 30]
    fell[20] = 10
    assert infer_current(governed, fell) == (21, 1.0)
    # nothing fell back for low confidence: nothing is below the threshold
    assert infer_current(governed, np.zeros(ADVICE_BUCKETS)) == (0, 1.0)
    # one served answer below the others' threshold: explained 39 of 40
    governed[10] = 1
    assert infer_current(governed, fell) == (21, pytest.approx(40 / 41))


def test_a_sum_of_latencies_adds_within_the_buckets_accuracy() -> None:
    total = sum_distribution(
        latency_row(100.0, 10).astype(float), latency_row(200.0, 3).astype(float)
    )
    assert total.sum() == pytest.approx(10.0)
    (index,) = np.nonzero(total)
    assert latency_bucket_value(int(index[0]) + LATENCY_OFFSET) == pytest.approx(300.0, rel=0.04)


def test_every_threshold_is_replayed() -> None:
    advice = _advice()
    assert [p.threshold for p in advice.curve] == [k / 100 for k in range(101)]
    assert (advice.current.threshold, advice.current_fit, advice.attempts) == (0.21, 1.0, 40)
    everything_local, current, all_cloud = advice.curve[0], advice.curve[21], advice.curve[100]
    # threshold 0: all 40 served locally; quality (10 x 0.3 + 30 x 0.9) / 40
    assert (everything_local.local_share, everything_local.cloud_escalation_rate) == (1.0, 0.0)
    assert everything_local.quality == pytest.approx(0.75)
    assert everything_local.cost_per_1k == 0.0
    assert everything_local.latency_p95_ms == pytest.approx(100.0, rel=0.02)
    assert everything_local.coverage == "measured"
    assert everything_local.labelled == 40
    # the current threshold replays what happened: 10 of 40 to the cloud at 1.0 a call
    assert (current.local_share, current.cloud_escalation_rate) == (0.75, 0.25)
    assert current.quality == pytest.approx(0.9)
    assert current.cost_per_1k == pytest.approx(250.0)
    assert current.latency_p95_ms == pytest.approx(300.0, rel=0.04)
    assert current.energy_mj_per_request == pytest.approx(50.0)
    assert (current.coverage, current.labelled) == ("measured", 40)
    # above 0.80 the served answers' cloud outcome is the pooled one of the escalations
    assert all_cloud.quality == pytest.approx(0.9)
    assert (all_cloud.coverage, all_cloud.pooled_share) == ("pooled", 0.75)
    assert all_cloud.cost_per_1k == pytest.approx(1000.0)
    assert advice.notes == [
        "where a confidence bucket has fewer than 20 escalations, the latency an escalation "
        "adds is that of all escalations",
        "no price for tier device: its attempts are counted as free",
        "where a confidence bucket has fewer than 5 labelled cloud answers, the cloud's quality "
        "over all escalations stands in for it (assumed not to depend on the local confidence)",
    ]


def test_intervals() -> None:
    current = _advice().curve[21]
    # variances 27 x 3 / 30 / 29 ... from the labelled sums: local (bucket 80) and cloud (bucket 20)
    half = 1.959963984540054 * np.sqrt(30 * (27 - 27**2 / 30) / 29 + 10 * (9 - 8.1) / 9) / 40
    assert current.quality_low == pytest.approx(0.9 - half)
    assert current.quality_high == pytest.approx(min(1.0, 0.9 + half))
    assert (current.local_share_low, current.local_share_high) == wilson(30, 40)
    assert current.cost_per_1k_low == pytest.approx(1000 * (1 - wilson(30, 40)[1]))


def test_answers_nobody_labelled_are_not_extrapolated() -> None:
    # one served answer at 0.50 without a label: 1 of 41 requests (over the 1% allowed)
    unlabelled = {**FLEET, "b50": {"attempts": 1, "local_latency_hist": (100.0, 1)}}
    advice = _advice(**unlabelled)
    assert advice.curve[50].quality is None
    assert advice.curve[50].coverage == "none"
    assert advice.curve[50].unlabelled_share == pytest.approx(1 / 41)
    # where it would escalate, the pooled cloud outcome covers it
    assert advice.curve[51].coverage == "pooled"


@pytest.mark.parametrize(
    ("floor", "threshold", "reason"),
    [
        # serving everything locally meets 0.6; 0.00 to 0.20 serve the same, 0.20 is nearest
        (0.6, 0.2, "threshold 0.20 is the cheapest that meets quality floor 0.6: 0 per 1,000 "
         "requests against 250 at the current 0.21, predicted quality 0.750"),
        # 0.21 to 0.80 cost the same: the current one is kept
        (0.8, 0.21, "the current threshold 0.21 is already the cheapest that meets quality "
         "floor 0.8 (250 per 1,000 requests, predicted quality 0.900)"),
        # nothing is sure to reach 0.95
        (0.95, None, "no threshold meets quality floor 0.95: the best is 0.900 (95% interval "
         "from 0.805) at threshold 0.21"),
    ],
)  # fmt: skip
def test_the_cheapest_threshold_that_meets_the_floor(
    floor: float, threshold: float | None, reason: str
) -> None:
    advice = _advice(Goals(quality_floor=floor))
    chosen = advice.recommended
    assert (chosen.threshold if chosen else None, advice.reason) == (threshold, reason)


def test_a_latency_objective_rules_out_slow_thresholds() -> None:
    # 80% within 150 ms: at most 20% may escalate (their 300 ms), and 0.6 quality
    goals = Goals(quality_floor=0.6, latency=LatencyObjective(threshold_ms=150.0, target=0.8))
    advice = _advice(goals)
    assert advice.curve[0].latency_within == 1.0
    assert advice.curve[21].latency_within == 0.75
    assert advice.curve[21].meets_goals is False
    assert advice.recommended is not None and advice.recommended.threshold == 0.2


def test_without_goals_there_is_no_recommendation() -> None:
    advice = _advice()
    assert advice.recommended is None
    assert advice.reason == (
        "no quality floor or latency objective for task photo-tag: give one "
        "(quality_floor, latency_ms) or configure an objective"
    )


def test_no_attempts_no_advice() -> None:
    with pytest.raises(NoAdviceData):
        advise(bucket_sums(), task="photo-tag", fleet=None, tier="device", goals=Goals())


def _objective(task: str, fleet: str | None = None, *, floor: float | None = None,
               latency: tuple[float, float] | None = None) -> SimpleNamespace:  # fmt: skip
    return SimpleNamespace(
        task=task,
        fleet=fleet,
        quality=None if floor is None else SimpleNamespace(floor=floor),
        latency=None
        if latency is None
        else SimpleNamespace(threshold_ms=latency[0], target=latency[1]),
    )


def test_goals_come_from_the_tasks_objectives_the_strictest_winning() -> None:
    objectives = [
        _objective("photo-tag", floor=0.85, latency=(500, 0.95)),
        _objective("photo-tag", "fleet-a", floor=0.9),
        _objective("photo-tag", "fleet-a", latency=(300, 0.9)),
        _objective("photo-tag", "fleet-b", floor=0.99, latency=(100, 0.99)),
        _objective("voice", floor=0.7),
    ]
    assert goals_from_objectives(objectives, task="photo-tag", fleet="fleet-a") == Goals(
        quality_floor=0.9, latency=LatencyObjective(300, 0.9)
    )
    # every fleet: only the entries for every fleet
    assert goals_from_objectives(objectives, task="photo-tag", fleet=None) == Goals(
        quality_floor=0.85, latency=LatencyObjective(500, 0.95)
    )
    assert goals_from_objectives(objectives, task="doc-scan", fleet=None) == Goals()


def test_goals_a_request_leaves_out_come_from_the_objectives() -> None:
    objectives = [_objective("photo-tag", floor=0.85, latency=(500, 0.95))]
    asked = Goals(quality_floor=0.9)
    assert merged_goals(asked, objectives, task="photo-tag", fleet=None) == Goals(
        quality_floor=0.9, latency=LatencyObjective(500, 0.95), from_objectives=("latency",)
    )
    assert merged_goals(Goals(), [], task="photo-tag", fleet=None) == Goals()
