"""A synthetic fleet over eight days with a daily rhythm, drawn straight into rollups.

Traffic swings about 3x over the day (peak at 15:00 UTC); at the peak edge nodes
queue (latency and errors up) and phones run warmer (more attempts at a serious
thermal state). Every day also differs a little from the others (traffic,
latency, error rate, quality, energy), as real days do. Scenarios change one
part of the fleet on top of that: a rollout that makes things better, a slow
quality drift, a real problem at the peak on one node, a node going silent, a
hardware class whose energy per attempt rises. The health report is judged at
the busiest hour of the last day.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from analytics import aggregates
from analytics.aggregates import Aggregates
from analytics.baselines import Plan
from analytics.config import AnalyticsSettings
from analytics.health import HealthReport, evaluate_health, plan_for, short_history
from analytics.judge import Observed
from tests.analytics.synthetic import Profile, sample_aggregates, segment_key, segments_frame

#: The judged window ends here: the busiest hour of a Monday.
END = datetime(2025, 3, 10, 16, 0, tzinfo=UTC)
WINDOW = timedelta(hours=1)
HISTORY_DAYS = 8

DEVICES = ("galaxy-a14", "galaxy-s21", "pixel-7", "iphone-13")
EDGES = ("edge-1", "edge-2", "edge-3", "edge-4")
CLOUDS = ("cloud-1", "cloud-2")

#: A change of a profile: (segment key, day (0 = today, -1 = yesterday), hour) -> changes.
Change = Callable[[dict[str, str], int, int], dict[str, float]]


def load(hour: float) -> float:
    """The traffic multiplier of an hour of the day: 0.5 at 03:00 to 1.5 at 15:00."""
    return 1.0 + 0.5 * math.sin(2 * math.pi * (hour - 9) / 24)


@dataclass(frozen=True)
class Scenario:
    """One way a fleet behaves: its segments, what changed, and where a problem should show."""

    name: str
    keys: list[dict[str, str]]
    change: Change
    #: The dimension values that locate the injected problem (empty: nothing to find).
    problem: dict[str, str]
    #: The metrics and finding kinds that count as finding it.
    expected: frozenset[tuple[str, str]] = frozenset()


def base_keys(*, versions: tuple[str, ...] = ("2.1.0",)) -> list[dict[str, str]]:
    """Device classes running two tasks, edge nodes and cloud nodes of one fleet."""
    keys = []
    for device in DEVICES:
        for version in versions:
            keys.append(
                segment_key(tier="device", device_model=device, model="tagger",
                            model_version=version, task="photo-tag")
            )  # fmt: skip
        keys.append(
            segment_key(tier="device", device_model=device, model="asr-tiny",
                        model_version="1.4.0", task="speech-intent")
        )  # fmt: skip
    for node in EDGES:
        for task, model in (("photo-tag", "tagger-m"), ("speech-intent", "asr-base")):
            keys.append(
                segment_key(tier="edge", node=node, model=model, model_version="3.0.0", task=task)
            )
    for node in CLOUDS:
        keys.append(
            segment_key(
                tier="cloud", node=node, model="tagger-l", model_version="5.0", task="photo-tag"
            )
        )
    return keys


def _profile(key: dict[str, str], day: int, hour: int, rng: np.random.Generator,
             effects: dict[tuple[str, ...], np.ndarray], change: Change) -> Profile:  # fmt: skip
    """One hour of one segment: the tier's profile, the daily rhythm, the day's own noise."""
    r = load(hour + 0.5)
    peak = max(r - 1.0, 0.0) / 0.5
    tier = key["tier"]
    ident = (*key.values(), str(day))
    if ident not in effects:
        effects[ident] = rng.normal(0.0, 1.0, 6)
    e = effects[ident]
    if tier == "device":
        base = {
            "attempts": 1500 * r,
            "latency_median_ms": 120.0,
            "error_rate": 0.02,
            "quality_mean": 0.86,
            "energy_mj_mean": 40.0,
            "energy_mj_sd": 15.0,
            "thermal_share": 0.03 + 0.05 * peak,
        }
    elif tier == "edge":
        base = {
            "attempts": 900 * r,
            "latency_median_ms": 60.0 * (1 + 0.35 * peak),
            "error_rate": 0.01 * (1 + 0.6 * peak),
            "quality_mean": 0.9,
        }
    else:
        base = {
            "attempts": 700 * r,
            "latency_median_ms": 300.0,
            "error_rate": 0.005,
            "quality_mean": 0.94,
        }
    if key["task"] == "speech-intent":
        base["latency_median_ms"] *= 1.8
    base["attempts"] *= math.exp(0.05 * e[0])
    base["latency_median_ms"] *= math.exp(0.03 * e[1])
    base["error_rate"] *= math.exp(0.08 * e[2])
    base["quality_mean"] += 0.004 * e[3]
    if "energy_mj_mean" in base:
        base["energy_mj_mean"] *= math.exp(0.02 * e[4])
        base["thermal_share"] *= math.exp(0.08 * e[5])
    for name, value in change(key, day, hour).items():
        if name == "attempts_factor":
            base["attempts"] *= value
        elif name.endswith("_factor"):
            base[name.removesuffix("_factor")] *= value
        else:
            base[name] = value
    base["attempts"] = round(base["attempts"])
    return Profile(fallback_rate=0.06, **base)  # type: ignore[arg-type]


def _period(scenario: Scenario, start: datetime, hours: int, rng: np.random.Generator,
            effects: dict[tuple[str, ...], np.ndarray], *, step: int = 1) -> Aggregates:  # fmt: skip
    """Per-segment-id aggregates of ``hours`` whole hours from ``start``, drawn ``step`` at a time."""
    parts = []
    for h in range(0, hours, step):
        moment = start + timedelta(hours=h + step // 2)
        day = (moment.date() - END.date()).days
        profiles = {
            i + 1: _profile(key, day, moment.hour, rng, effects, scenario.change)
            for i, key in enumerate(scenario.keys)
        }
        if step > 1:
            profiles = {i: dataclasses.replace(p, attempts=p.attempts * step)
                        for i, p in profiles.items()}  # fmt: skip
        profiles = {i: p for i, p in profiles.items() if p.attempts > 0}
        if profiles:
            parts.append(sample_aggregates(profiles, rng))
    return aggregates.combine(parts)


def observe(scenario: Scenario, *, seed: int, settings: AnalyticsSettings | None = None,
            history_days: float = HISTORY_DAYS) -> tuple[Observed, Plan]:  # fmt: skip
    """Every period the report on the last day's busiest hour reads, drawn for ``seed``.

    ``history_days`` is how long the store has held data before the window ends;
    with fewer than ``seasonal_min_days`` earlier days the period before the window
    is drawn hour by hour, as its slices, like :func:`analytics.health.health_report`
    does when a segment in the window has a short calendar.
    """
    settings = settings or AnalyticsSettings()
    rng = np.random.default_rng(seed)
    effects: dict[tuple[str, ...], np.ndarray] = {}
    plan = plan_for(END, window=WINDOW, baseline=None, settings=settings)
    history_start = END - timedelta(days=history_days)

    def read(start: datetime, hours: int, step: int = 1) -> Aggregates:
        if start < history_start:
            return aggregates.empty()
        return _period(scenario, start, hours, rng, effects, step=step)

    days = tuple(read(p.start, 1) for p in plan.days)
    window = read(plan.window.start, 1)
    slices: tuple[Aggregates, ...] = ()
    if short_history(window, days, settings.seasonal_min_days):
        slices = tuple(read(p.start, p.seconds // 3600) for p in plan.slices)
        preceding = aggregates.combine(slices)
    else:
        # The day before the window, in three-hour steps drawn at each step's middle hour.
        preceding = aggregates.combine(
            [read(plan.preceding.start + timedelta(hours=3 * k), 3, step=3) for k in range(8)]
        )
    reference_period = plan.reference[None][0]
    by_start = {p.start: d for p, d in zip(plan.days, days, strict=True)}
    observed = Observed(
        segments=segments_frame(scenario.keys),
        window=window,
        preceding=preceding,
        days=days,
        reference=by_start.get(reference_period.start, read(reference_period.start, 1)),
        slices=slices,
    )
    return observed, plan


def report(scenario: Scenario, *, by: tuple[str, ...], seed: int,
           settings: AnalyticsSettings | None = None,
           history_days: float = HISTORY_DAYS) -> HealthReport:  # fmt: skip
    """The health report of the last day's busiest hour, with the best baseline the history allows."""
    settings = settings or AnalyticsSettings()
    observed, plan = observe(scenario, seed=seed, settings=settings, history_days=history_days)
    return evaluate_health(observed, plan, by=by, fleet=None, settings=settings)


def _no_change(key: dict[str, str], day: int, hour: int) -> dict[str, float]:
    return {}


def _rollout(key: dict[str, str], day: int, hour: int) -> dict[str, float]:
    # 2.2.0 reaches 20% of phones four days ago and all of them today; it is faster and better.
    if key["model"] != "tagger":
        return {}
    share = min(max((day + 5) / 5, 0.0), 1.0)
    if key["model_version"] == "2.2.0":
        return {"attempts_factor": share, "latency_median_ms_factor": 0.85, "quality_mean": 0.89}
    return {"attempts_factor": 1 - share}


def _drift(key: dict[str, str], day: int, hour: int) -> dict[str, float]:
    # pixel-7's quality falls 1.5 points a day: 0.845 a week ago, 0.74 today.
    if key["device_model"] == "pixel-7":
        return {"quality_mean": 0.86 - 0.015 * (day + 8)}
    return {}


def _peak_problem(key: dict[str, str], day: int, hour: int) -> dict[str, float]:
    # edge-2 is in real trouble at today's peak: slower and failing more than its usual peak.
    if key["node"] == "edge-2" and day == 0 and hour == END.hour - 1:
        return {"latency_median_ms_factor": 1.5, "error_rate_factor": 2.0}
    return {}


def _silent(key: dict[str, str], day: int, hour: int) -> dict[str, float]:
    # edge-3 stops sending a few minutes into the judged hour.
    if key["node"] == "edge-3" and day == 0 and hour == END.hour - 1:
        return {"attempts_factor": 0.08}
    return {}


def _energy(key: dict[str, str], day: int, hour: int) -> dict[str, float]:
    # galaxy-a14 spends 30% more energy per attempt today.
    if key["device_model"] == "galaxy-a14" and day == 0:
        return {"energy_mj_mean_factor": 1.3}
    return {}


SCENARIOS = {
    "steady": Scenario("steady", base_keys(), _no_change, {}),
    "rollout": Scenario("rollout", base_keys(versions=("2.1.0", "2.2.0")), _rollout, {}),
    "drift": Scenario(
        "drift", base_keys(), _drift, {"device_model": "pixel-7"},
        frozenset({("quality_mean", "drift"), ("quality_mean", "change")}),
    ),
    "peak": Scenario(
        "peak", base_keys(), _peak_problem, {"node": "edge-2"},
        frozenset({("latency_p50_ms", "change"), ("latency_p95_ms", "change"),
                   ("latency_p99_ms", "change"), ("error_rate", "change")}),
    ),
    "silent": Scenario(
        "silent", base_keys(), _silent, {"node": "edge-3"},
        frozenset({("attempts", "silence")}),
    ),
    "energy": Scenario(
        "energy", base_keys(), _energy, {"device_model": "galaxy-a14"},
        frozenset({("energy_mj_mean", "change")}),
    ),
}  # fmt: skip

#: The groupings every scenario is judged by, including the README's examples.
GROUPINGS = (
    ("tier",),
    ("fleet", "tier", "task"),
    ("tier", "node"),
    ("tier", "device_model"),
    ("tier", "device_model", "model_version"),
)


def touches(key: dict[str, str], problem: dict[str, str]) -> bool:
    """Whether a segment of ``key`` holds the problem's attempts (or may, for dims it lacks)."""
    if not problem:
        return False
    return all(key.get(dim, value) == value for dim, value in problem.items()) and any(
        key.get("tier") in (None, tier) for tier in _tiers(problem)
    )


def _tiers(problem: dict[str, str]) -> tuple[str, ...]:
    return ("edge",) if "node" in problem else ("device",)


def isolates(by: tuple[str, ...], problem: dict[str, str]) -> bool:
    """Whether a grouping splits the fleet finely enough to show the problem's segment."""
    return all(dim in by for dim in problem)


def flagged(health: object) -> bool:
    """Whether a segment's status is warn or degraded."""
    return getattr(health, "status", "") in ("warn", "degraded")


def found(report_: HealthReport, scenario: Scenario) -> bool:
    """Whether the problem shows as an expected finding on a segment that holds it."""
    for segment in report_.segments:
        if not touches(segment.key, scenario.problem):
            continue
        for f in segment.findings:
            if f.direction == "worse" and (f.metric, f.kind) in scenario.expected:
                if f.subject and any(scenario.problem.get(k) != v for k, v in f.subject.items()):
                    continue
                return True
    return False
