"""The fit matrix's placement: which tier the measured signals support, and the reason."""

from __future__ import annotations

import pytest

from analytics.advice import Goals, LatencyObjective
from analytics.fit import TierFit, place


def tier(name: str, p95: float, cost: float | None, *, meets: bool | None = None,
         quality: float | None = None, versions: int = 1) -> TierFit:  # fmt: skip
    return TierFit(name, 100, p95, meets, quality, cost, versions)


FAST_CHEAP_EDGE = [tier("device", 80, 0.0), tier("edge", 40, 0.5), tier("cloud", 120, 2.0)]
LATENCY = Goals(latency=LatencyObjective(threshold_ms=100, target=0.95))


@pytest.mark.parametrize(
    ("tiers", "signals", "goals", "placement", "reason"),
    [
        # no sensitive data, no offline use, no objectives: the cheapest tier, cloud behind it
        (FAST_CHEAP_EDGE, (0.0, 0, 0.0), Goals(), "device with cloud fallback",
         "device is the cheapest (no objectives for this task): 0 per 1,000 requests"),
        # sensitive data keeps the device; the rest goes where it is cheapest
        ([tier("edge", 40, 0.5), tier("cloud", 120, 2.0)], (0.2, 3, 0.0), Goals(),
         "device for sensitive or offline requests, edge with cloud fallback for the rest",
         "20% of attempts carry sensitive data, which only the device may run (3 ran elsewhere: "
         "privacy violations); edge is the cheapest (no objectives for this task): 0.5 per "
         "1,000 requests"),
        # the device misses the latency objective: the edge is the cheapest that meets it
        ([tier("device", 300, 0.0, meets=False), tier("edge", 40, 0.5, meets=True),
          tier("cloud", 90, 2.0, meets=True)], (0.0, 0, 0.0), LATENCY,
         "edge with cloud fallback",
         "device p95 300 ms misses the latency objective; edge is the cheapest of the tiers "
         "that meet the objectives: 0.5 per 1,000 requests"),
        # no prices: the fastest; many device versions are worth a word
        ([tier("device", 80, None, versions=4), tier("cloud", 60, None)], (0.0, 0, 0.0),
         Goals(), "cloud",
         "device ran 3 or more model versions in the window; cloud is the fastest (no "
         "objectives for this task); no prices to compare"),
        # offline devices need a local answer, and nothing meets the quality floor
        ([tier("device", 80, 0.0, quality=0.7)], (0.0, 0, 0.3), Goals(quality_floor=0.9),
         "device", "30% of device attempts were offline; device quality 0.700 is below the "
         "floor; no tier meets every objective"),
    ],
)  # fmt: skip
def test_placement(
    tiers: list[TierFit],
    signals: tuple[float, int, float],
    goals: Goals,
    placement: str,
    reason: str,
) -> None:
    sensitive, violations, offline = signals
    assert place(
        tiers,
        sensitive_share=sensitive,
        privacy_violations=violations,
        offline_share=offline,
        goals=goals,
    ) == (placement, reason)
