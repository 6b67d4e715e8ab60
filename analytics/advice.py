"""The routing what-if: a local tier's confidence threshold replayed over recorded attempts.

A local tier (device or edge) serves its answer when the model's confidence is
at least the router's threshold and otherwise falls back to the cloud. Given,
per confidence bucket of width 0.01, what the tier's attempts did and what the
same requests got at the cloud (:class:`analytics.advice_rollups.BucketSums`),
:func:`replay` predicts for every threshold 0.00, 0.01, ..., 1.00 the local
share, the cloud escalation rate, the mean quality of the answers served, the
end-to-end p95 latency, the cost per 1,000 requests and the device energy per
request, each with a 95% interval, and says how much of each prediction rests
on labelled answers. :func:`recommend` picks the cheapest threshold that meets
the task's quality floor and latency objective.

What each prediction rests on:

- an answer served locally at the threshold: the tier's labelled quality in its
  bucket (above the current threshold from served answers, below it only from
  fallen-back answers that were compared with the cloud's);
- an answer escalated at the threshold: the cloud outcome of the same bucket's
  escalations where there are at least :data:`MIN_OWN_CLOUD` labelled ones,
  else the cloud outcome of every escalation of the period, *pooled*: the
  cloud's quality is then assumed not to depend on the local confidence, and the
  point says so (``coverage == "pooled"``, ``pooled_share``);
- attempts that fell back for other reasons (errors, time-outs, offline, heat)
  take the same course at every threshold: they count in latency, cost and
  energy as they happened, and not in quality, which compares what the
  threshold decides.

A point whose quality would need answers nobody labelled (more than
``max_unlabelled_share`` of the requests the threshold decides) has
``quality`` ``None`` and ``coverage == "none"``; one that rests on a smaller
unlabelled share leaves those requests out and says ``partial``. Intervals are
normal (Wald) intervals on means and Wilson intervals on shares; the p95's comes
from the binomial ranks around the 95th. Pure: arrays in, dataclasses out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from analytics.advice_rollups import ADVICE_BUCKETS, BucketSums, latency_buckets
from analytics.config import CostSettings
from analytics.histograms import LATENCY_BINS, LATENCY_OFFSET, LATENCY_VALUES
from analytics.times import TimeRange

Z95 = 1.959963984540054
#: Labelled cloud answers a bucket needs before its own cloud outcome is used, not the pooled one.
MIN_OWN_CLOUD = 5
#: Escalations a bucket needs before its own added latency is used, not the pooled one.
MIN_OWN_LATENCY = 20
#: The quantile ``latency_p95_ms`` reports.
P95 = 0.95


@dataclass(frozen=True)
class LatencyObjective:
    """A latency objective: ``target`` share of requests within ``threshold_ms``."""

    threshold_ms: float
    target: float


@dataclass(frozen=True)
class Goals:
    """What the recommended threshold must meet: a quality floor and a latency objective.

    ``from_objectives`` names the kinds (``quality``, ``latency``) that the task's
    ``[[objectives]]`` set rather than the request.
    """

    quality_floor: float | None = None
    latency: LatencyObjective | None = None
    from_objectives: tuple[str, ...] = ()


class _LatencyTarget(Protocol):
    threshold_ms: float
    target: float


class _QualityTarget(Protocol):
    floor: float


class ObjectiveEntry(Protocol):
    """What the goals read of an ``[[objectives]]`` entry."""

    @property
    def task(self) -> str: ...
    @property
    def fleet(self) -> str | None: ...
    @property
    def latency(self) -> _LatencyTarget | None: ...
    @property
    def quality(self) -> _QualityTarget | None: ...


def goals_from_objectives(
    objectives: Iterable[ObjectiveEntry], *, task: str, fleet: str | None
) -> Goals:
    """The goals the objectives set for ``task`` (in ``fleet``, or every fleet's).

    Entries for the task and for every fleet or this one count; where several
    set a kind, the strictest wins: the highest quality floor, and the latency
    objective with the smallest threshold (the highest target among equal ones).
    """
    mine = [o for o in objectives if o.task == task and (o.fleet is None or o.fleet == fleet)]
    floors = [o.quality.floor for o in mine if o.quality is not None]
    latencies = [o.latency for o in mine if o.latency is not None]
    latency = None
    if latencies:
        strictest = min(latencies, key=lambda t: (t.threshold_ms, -t.target))
        latency = LatencyObjective(strictest.threshold_ms, strictest.target)
    return Goals(quality_floor=max(floors) if floors else None, latency=latency)


def merged_goals(
    asked: Goals, objectives: Iterable[ObjectiveEntry], *, task: str, fleet: str | None
) -> Goals:
    """The goals a request asked for, each kind it left out taken from the task's objectives."""
    configured = goals_from_objectives(objectives, task=task, fleet=fleet)
    taken = []
    floor, latency = asked.quality_floor, asked.latency
    if floor is None and configured.quality_floor is not None:
        floor = configured.quality_floor
        taken.append("quality")
    if latency is None and configured.latency is not None:
        latency = configured.latency
        taken.append("latency")
    return Goals(quality_floor=floor, latency=latency, from_objectives=tuple(taken))


@dataclass(frozen=True)
class AdvicePoint:
    """The predicted outcome of one threshold over the recorded requests.

    Shares and rates are of the requests that started at the local tier.
    ``quality`` is the mean quality of the answers served among the requests the
    threshold decides; ``labelled`` is how many labelled answers it rests on,
    ``pooled_share`` the share of those requests whose cloud outcome comes from
    every escalation pooled, ``unlabelled_share`` the share whose answer's
    quality nobody measured (left out). ``coverage`` sums that up: ``measured``,
    ``pooled``, ``partial`` or ``none`` (quality unknown). ``latency_within`` is
    the share of requests within the latency objective's threshold, when one is
    set; ``meets_goals`` whether the point meets the quality floor (its interval's
    lower end) and the latency objective, ``None`` without goals.
    """

    threshold: float
    local_share: float
    local_share_low: float
    local_share_high: float
    cloud_escalation_rate: float
    cloud_escalation_rate_low: float
    cloud_escalation_rate_high: float
    quality: float | None
    quality_low: float | None
    quality_high: float | None
    latency_p95_ms: float | None
    latency_p95_ms_low: float | None
    latency_p95_ms_high: float | None
    latency_within: float | None
    cost_per_1k: float | None
    cost_per_1k_low: float | None
    cost_per_1k_high: float | None
    energy_mj_per_request: float | None
    coverage: str
    labelled: int
    pooled_share: float
    unlabelled_share: float
    meets_goals: bool | None = None


@dataclass(frozen=True)
class Advice:
    """The what-if of one task's local tier: the curve, the current and the recommended threshold.

    ``current_fit`` is the share of the recorded attempts whose course (served or
    fallen back for low confidence) the inferred current threshold explains; well
    below 1 means the fleet's routers do not share one threshold. ``forced_share``
    is the share of requests that fell back for other reasons than low confidence.
    ``notes`` name every assumption the curve makes.
    """

    task: str
    fleet: str | None
    tier: str
    models: list[str]
    attempts: int
    hours: int
    forced_share: float
    current_fit: float
    goals: Goals
    priced: bool
    current: AdvicePoint
    curve: list[AdvicePoint]
    recommended: AdvicePoint | None
    reason: str
    notes: list[str] = field(default_factory=list)
    #: The whole hours read, set by :func:`analytics.advice_report.advice_report`.
    window: TimeRange | None = None


@dataclass(frozen=True)
class ReplayOptions:
    """How strict the replay is about answers nobody labelled."""

    #: Above this share of unlabelled requests a point's quality is unknown.
    max_unlabelled_share: float = 0.01


class NoAdviceData(LookupError):
    """No local attempts with a confidence were recorded for this task in the window."""


def wilson(successes: float, n: float) -> tuple[float, float]:
    """The 95% Wilson interval of a proportion."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1.0 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denominator
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denominator
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def sample_variance(count: np.ndarray, total: np.ndarray, squares: np.ndarray) -> np.ndarray:
    """Per-element sample variance from count, sum and sum of squares (0.25, the most a
    quantity in [0, 1] can have, where fewer than two values exist)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = (squares - total**2 / count) / (count - 1)
    return np.where(count >= 2, np.maximum(variance, 0.0), 0.25)


def sum_distribution(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The latency histogram of the sum of two independent latencies, as dense rows.

    ``first`` keeps its total; ``second`` is used as a distribution.
    """
    total = second.sum()
    if first.sum() <= 0 or total <= 0:
        return np.zeros(LATENCY_BINS)
    (i,) = np.nonzero(first)
    (j,) = np.nonzero(second)
    values = LATENCY_VALUES[i][:, None] + LATENCY_VALUES[j][None, :]
    weights = first[i][:, None] * (second[j][None, :] / total)
    index = latency_buckets(values.ravel()) - LATENCY_OFFSET
    return np.bincount(index, weights=weights.ravel(), minlength=LATENCY_BINS)[:LATENCY_BINS]


def histogram_quantile(histogram: np.ndarray, q: float) -> float | None:
    """The ``q``-quantile of a dense latency histogram (the rank ``q * (n - 1)``)."""
    n = histogram.sum()
    if n <= 0:
        return None
    cumulative = np.cumsum(histogram)
    index = int(np.searchsorted(cumulative, q * (n - 1), side="right"))
    return float(LATENCY_VALUES[min(index, LATENCY_BINS - 1)])


def quantile_interval(histogram: np.ndarray, q: float) -> tuple[float | None, float | None]:
    """A 95% interval of a quantile from the binomial ranks around ``q * n``."""
    n = float(histogram.sum())
    if n <= 0:
        return None, None
    half = Z95 * math.sqrt(n * q * (1 - q))
    low = max(q * n - half, 0.0) / n
    high = min(q * n + half, n - 1) / n
    return histogram_quantile(histogram, low), histogram_quantile(histogram, high)


def infer_current(governed: np.ndarray, low_confidence: np.ndarray) -> tuple[int, float]:
    """The current threshold (in buckets) and the share of attempts it explains.

    The threshold ``k`` explains an attempt below it that fell back for low
    confidence and one at or above it that was served; the smallest ``k`` that
    explains the most is taken (with no low-confidence fallbacks, 0).
    """
    served = governed - low_confidence
    below_served = np.concatenate([[0.0], np.cumsum(served)])
    above_fallen = np.concatenate([np.cumsum(low_confidence[::-1])[::-1], [0.0]])
    errors = below_served + above_fallen
    k = int(np.argmin(errors))
    total = governed.sum()
    fit = 1.0 - errors[k] / total if total > 0 else 1.0
    return k, float(fit)


def _suffix(values: np.ndarray) -> np.ndarray:
    """``out[k] = sum(values[k:])`` for k = 0..len (the last is 0)."""
    return np.concatenate([np.cumsum(values[::-1])[::-1], [0.0]])


def _prefix(values: np.ndarray) -> np.ndarray:
    """``out[k] = sum(values[:k])`` for k = 0..len."""
    return np.concatenate([[0.0], np.cumsum(values)])


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), 0.0)


def attempt_price(
    prices: CostSettings,
    *,
    tier: str,
    model: str | None,
    input_tokens: float = 0.0,
    output_tokens: float = 0.0,
) -> float | None:
    """One attempt's price with these (mean) token counts; ``None`` when nothing prices it.

    ``per_node_hour`` plays no part: no routing threshold changes what a node costs an hour.
    """
    entry = prices.price_for(tier, model or "")
    if entry is None:
        return None
    return (
        entry.amount("per_call")
        + entry.amount("per_1k_input_tokens") * input_tokens / 1000.0
        + entry.amount("per_1k_output_tokens") * output_tokens / 1000.0
    )


@dataclass(frozen=True)
class _Prices:
    """Unit prices of the what-if: a local attempt, and a cloud call per bucket and when forced."""

    local: float
    cloud: np.ndarray
    forced: float
    notes: list[str]


def _unit_prices(
    data: BucketSums, *, prices: CostSettings, tier: str, cloud_model: str | None
) -> _Prices | None:
    """What each attempt costs, or ``None`` when the price list does not price the cloud."""
    s = data.sums
    n = s["attempts"].sum()
    notes: list[str] = []
    local_model = data.models[0] if len(data.models) == 1 else None
    local = attempt_price(
        prices,
        tier=tier,
        model=local_model,
        input_tokens=s["local_input_tokens_sum"].sum() / n,
        output_tokens=s["local_output_tokens_sum"].sum() / n,
    )
    if local is None:
        notes.append(f"no price for tier {tier}: its attempts are counted as free")
        local = 0.0
    calls = s["escalated"].sum() + s["forced_cloud"].sum()
    inputs = s["cloud_input_tokens_sum"].sum() + s["forced_input_tokens_sum"].sum()
    outputs = s["cloud_output_tokens_sum"].sum() + s["forced_output_tokens_sum"].sum()
    pooled_in = inputs / calls if calls else 0.0
    pooled_out = outputs / calls if calls else 0.0
    own = s["escalated"] >= 1
    bucket_in = np.where(own, _ratio(s["cloud_input_tokens_sum"], s["escalated"]), pooled_in)
    bucket_out = np.where(own, _ratio(s["cloud_output_tokens_sum"], s["escalated"]), pooled_out)
    cloud = np.array(
        [
            attempt_price(prices, tier="cloud", model=cloud_model, input_tokens=i, output_tokens=o)
            for i, o in zip(bucket_in, bucket_out, strict=True)
        ],
        dtype=object,
    )
    if any(value is None for value in cloud):
        return None
    forced_calls = s["forced_cloud"].sum()
    forced = attempt_price(
        prices,
        tier="cloud",
        model=cloud_model,
        input_tokens=s["forced_input_tokens_sum"].sum() / forced_calls if forced_calls else 0.0,
        output_tokens=s["forced_output_tokens_sum"].sum() / forced_calls if forced_calls else 0.0,
    )
    return _Prices(local=local, cloud=cloud.astype(float), forced=forced or 0.0, notes=notes)


def _maybe(values: np.ndarray, k: int) -> float | None:
    """``values[k]`` as a float, ``None`` where it is NaN (unknown)."""
    value = float(values[k])
    return None if math.isnan(value) else value


@dataclass(frozen=True)
class _QualityCurve:
    """Per threshold: quality of what it decides, its interval and what it rests on."""

    value: np.ndarray
    low: np.ndarray
    high: np.ndarray
    labelled: np.ndarray
    pooled_share: np.ndarray
    unlabelled_share: np.ndarray
    notes: list[str]

    def coverage(self, k: int) -> str:
        """``measured``, ``pooled``, ``partial`` or ``none`` at threshold bucket ``k``."""
        if math.isnan(self.value[k]):
            return "none"
        if self.unlabelled_share[k] > 0:
            return "partial"
        return "pooled" if self.pooled_share[k] > 0 else "measured"


def quality_curve(
    sums: dict[str, np.ndarray], governed: np.ndarray, *, max_unlabelled_share: float
) -> _QualityCurve:
    """Mean quality of the answers each threshold serves, among the requests it decides.

    Buckets at or above the threshold contribute their labelled local quality;
    those below, the labelled quality of their escalations' cloud answers (each
    bucket's own with at least :data:`MIN_OWN_CLOUD`, else all escalations'
    pooled). Unknown (NaN) where more than ``max_unlabelled_share`` of the
    requests rest on answers nobody labelled.
    """
    lq_n, lq_sum, lq_sq = (
        sums["local_quality_count"],
        sums["local_quality_sum"],
        sums["local_quality_sq_sum"],
    )
    cq_n, cq_sum, cq_sq = (
        sums["cloud_quality_count"],
        sums["cloud_quality_sum"],
        sums["cloud_quality_sq_sum"],
    )
    total = float(governed.sum())
    local_known = lq_n > 0
    pooled_n = float(cq_n.sum())
    pooled_mean = float(cq_sum.sum() / pooled_n) if pooled_n else 0.0
    pooled_var = float(
        sample_variance(np.array([pooled_n]), np.array([cq_sum.sum()]), np.array([cq_sq.sum()]))[0]
    )
    cloud_own = cq_n >= MIN_OWN_CLOUD
    cloud_pooled = ~cloud_own & (pooled_n > 0)
    cloud_known = cloud_own | cloud_pooled
    cloud_mean = np.where(cloud_own, _ratio(cq_sum, cq_n), pooled_mean)

    covered = _suffix(np.where(local_known, governed, 0.0)) + _prefix(
        np.where(cloud_known, governed, 0.0)
    )
    numerator = _suffix(np.where(local_known, governed * _ratio(lq_sum, lq_n), 0.0)) + _prefix(
        np.where(cloud_known, governed * cloud_mean, 0.0)
    )
    # The variance of a weighted sum of independent means: each bucket's own, and the
    # pooled mean once with the weight of every bucket that borrows it.
    local_terms = governed**2 * sample_variance(lq_n, lq_sum, lq_sq) / np.maximum(lq_n, 1)
    cloud_terms = governed**2 * sample_variance(cq_n, cq_sum, cq_sq) / np.maximum(cq_n, 1)
    pooled_weight = _prefix(np.where(cloud_pooled, governed, 0.0))
    variance = (
        _suffix(np.where(local_known, local_terms, 0.0))
        + _prefix(np.where(cloud_own, cloud_terms, 0.0))
        + pooled_weight**2 * (pooled_var / pooled_n if pooled_n else 0.0)
    )
    unlabelled = (total - covered) / total if total else np.zeros_like(covered)
    known = (unlabelled <= max_unlabelled_share) & (covered > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(known, numerator / covered, np.nan)
        half = Z95 * np.sqrt(variance) / covered
    # The pooled estimate rests on every labelled cloud answer, the buckets' own among them.
    labelled = _suffix(lq_n) + np.where(
        pooled_weight > 0, pooled_n, _prefix(np.where(cloud_own, cq_n, 0.0))
    )
    notes = []
    if cloud_pooled.any() and pooled_n:
        notes.append(
            "where a confidence bucket has fewer than "
            f"{MIN_OWN_CLOUD} labelled cloud answers, the cloud's quality over all escalations "
            "stands in for it (assumed not to depend on the local confidence)"
        )
    return _QualityCurve(
        value=value,
        low=np.where(known, np.maximum(value - half, 0.0), np.nan),
        high=np.where(known, np.minimum(value + half, 1.0), np.nan),
        labelled=labelled,
        pooled_share=pooled_weight / total if total else np.zeros_like(covered),
        unlabelled_share=unlabelled,
        notes=notes,
    )


@dataclass(frozen=True)
class _LatencyCurve:
    """Per threshold: the p95 of end-to-end latency, its interval, and the share within the
    latency objective (NaN where unknown)."""

    p95: np.ndarray
    low: np.ndarray
    high: np.ndarray
    within: np.ndarray
    notes: list[str]


def latency_curve(
    histograms: dict[str, np.ndarray],
    governed: np.ndarray,
    *,
    objective: LatencyObjective | None,
) -> _LatencyCurve:
    """End-to-end latency at each threshold: the mixture of local latencies (served),
    local plus what an escalation added (escalated) and forced requests as they were."""
    local = histograms["local_latency_hist"].astype(float)
    added = histograms["cloud_latency_hist"].astype(float)
    added_pooled = added.sum(axis=0)
    added_own = added.sum(axis=1) >= MIN_OWN_LATENCY
    escalated = np.zeros_like(local)
    unknown = np.zeros(ADVICE_BUCKETS, dtype=bool)
    for b in np.nonzero(local.sum(axis=1) > 0)[0]:
        addition = added[b] if added_own[b] else added_pooled
        if addition.sum() <= 0:
            unknown[b] = True
            continue
        escalated[b] = sum_distribution(local[b], addition)
    local_suffix = np.vstack([np.cumsum(local[::-1], axis=0)[::-1], np.zeros(LATENCY_BINS)])
    escalated_prefix = np.vstack([np.zeros(LATENCY_BINS), np.cumsum(escalated, axis=0)])
    forced = histograms["forced_latency_hist"].sum(axis=0).astype(float)
    gaps = _prefix((unknown & (governed > 0)).astype(float))
    curve = np.full((4, ADVICE_BUCKETS + 1), np.nan)
    for k in np.nonzero(gaps == 0)[0]:
        mixture = local_suffix[k] + escalated_prefix[k] + forced
        quantile = histogram_quantile(mixture, P95)
        bounds = quantile_interval(mixture, P95)
        share = None
        if objective is not None and mixture.sum() > 0:
            inside = np.less_equal(LATENCY_VALUES, objective.threshold_ms)
            share = float(mixture[inside].sum() / mixture.sum())
        curve[:, k] = [np.nan if v is None else v for v in (quantile, *bounds, share)]
    notes = []
    if (gaps > 0).any():
        notes.append(
            "no escalation was recorded: latencies of thresholds that escalate more are unknown"
        )
    elif (~added_own & (local.sum(axis=1) > 0)).any():
        notes.append(
            f"where a confidence bucket has fewer than {MIN_OWN_LATENCY} escalations, the "
            "latency an escalation adds is that of all escalations"
        )
    return _LatencyCurve(p95=curve[0], low=curve[1], high=curve[2], within=curve[3], notes=notes)


@dataclass(frozen=True)
class _CostCurve:
    """The cost of all requests at each threshold, and the part every request pays locally."""

    spent: np.ndarray
    local_per_request: float
    notes: list[str]


def cost_curve(
    data: BucketSums,
    governed: np.ndarray,
    *,
    prices: CostSettings | None,
    tier: str,
    cloud_model: str | None,
) -> _CostCurve | None:
    """What all requests cost at each threshold (``None`` without a price for the cloud)."""
    if prices is None or not prices.root:
        return None
    unit = _unit_prices(data, prices=prices, tier=tier, cloud_model=cloud_model)
    if unit is None:
        return None
    total = float(data.sums["attempts"].sum())
    fixed = total * unit.local + float(data.sums["forced_cloud"].sum()) * unit.forced
    return _CostCurve(fixed + _prefix(governed * unit.cloud), unit.local, unit.notes)


def energy_curve(sums: dict[str, np.ndarray], governed: np.ndarray) -> np.ndarray | None:
    """Device energy of all requests at each threshold (``None`` where none was reported).

    Every request runs its local attempt; an escalation adds what the device spent
    on its cloud call, where the attempt reported it.
    """
    counted = float(sums["energy_count"].sum())
    if not counted:
        return None
    total = float(sums["attempts"].sum())
    local = float(sums["energy_mj_sum"].sum()) / counted * total
    per_escalation = np.where(
        sums["escalated"] > 0,
        _ratio(sums["cloud_energy_mj_sum"], sums["escalated"]),
        float(sums["cloud_energy_mj_sum"].sum()) / max(float(sums["escalated"].sum()), 1.0),
    )
    return local + _prefix(governed * per_escalation) + float(sums["forced_energy_mj_sum"].sum())


def replay(
    data: BucketSums,
    *,
    tier: str,
    goals: Goals,
    prices: CostSettings | None = None,
    cloud_model: str | None = None,
    options: ReplayOptions | None = None,
) -> tuple[list[AdvicePoint], int, float, list[str]]:
    """Every threshold 0.00..1.00 replayed: the curve, the current bucket, its fit and notes."""
    options = options or ReplayOptions()
    s = data.sums
    total = float(s["attempts"].sum())
    if total <= 0:
        raise NoAdviceData()
    governed = s["attempts"] - s["forced"]
    current, fit = infer_current(governed, s["low_confidence"])
    # Buckets at or above the threshold serve locally; the others and the forced ones
    # that reached the cloud escalate.
    local_count = _suffix(governed)
    escalations = float(governed.sum()) - local_count + float(s["forced_cloud"].sum())
    quality = quality_curve(s, governed, max_unlabelled_share=options.max_unlabelled_share)
    latency = latency_curve(data.histograms, governed, objective=goals.latency)
    cost = cost_curve(data, governed, prices=prices, tier=tier, cloud_model=cloud_model)
    cost_notes = [] if cost is None else cost.notes
    if cost is None and prices is not None and prices.root:
        cost_notes = ["the price list has no entry for tier cloud: costs are unknown"]
    energy = energy_curve(s, governed)
    points: list[AdvicePoint] = []
    for k in range(ADVICE_BUCKETS + 1):
        share_low, share_high = wilson(local_count[k], total)
        rate = float(escalations[k] / total)
        rate_low, rate_high = wilson(escalations[k], total)
        cost_per_1k = cost_low = cost_high = None
        if cost is not None:
            spent = float(cost.spent[k])
            cost_per_1k = 1000.0 * spent / total
            # Only the escalations vary: the interval of their rate, at their mean price.
            calls = escalations[k]
            per_call = (spent - total * cost.local_per_request) / calls if calls else 0.0
            cost_low = 1000.0 * (cost.local_per_request + rate_low * per_call)
            cost_high = 1000.0 * (cost.local_per_request + rate_high * per_call)
        points.append(
            _judged(
                AdvicePoint(
                    threshold=round(k / ADVICE_BUCKETS, 2),
                    local_share=float(local_count[k] / total),
                    local_share_low=share_low,
                    local_share_high=share_high,
                    cloud_escalation_rate=rate,
                    cloud_escalation_rate_low=rate_low,
                    cloud_escalation_rate_high=rate_high,
                    quality=_maybe(quality.value, k),
                    quality_low=_maybe(quality.low, k),
                    quality_high=_maybe(quality.high, k),
                    latency_p95_ms=_maybe(latency.p95, k),
                    latency_p95_ms_low=_maybe(latency.low, k),
                    latency_p95_ms_high=_maybe(latency.high, k),
                    latency_within=_maybe(latency.within, k),
                    cost_per_1k=cost_per_1k,
                    cost_per_1k_low=cost_low,
                    cost_per_1k_high=cost_high,
                    energy_mj_per_request=None if energy is None else float(energy[k] / total),
                    coverage=quality.coverage(k),
                    labelled=int(quality.labelled[k]),
                    pooled_share=float(quality.pooled_share[k]),
                    unlabelled_share=float(quality.unlabelled_share[k]),
                ),
                goals,
            )
        )
    return points, current, fit, [*latency.notes, *cost_notes, *quality.notes]


def _judged(point: AdvicePoint, goals: Goals) -> AdvicePoint:
    """``point`` with ``meets_goals`` set."""
    if goals.quality_floor is None and goals.latency is None:
        return point
    meets = True
    if goals.quality_floor is not None:
        meets = point.quality_low is not None and point.quality_low >= goals.quality_floor
    if goals.latency is not None:
        meets = meets and point.latency_within is not None
        meets = meets and (point.latency_within or 0.0) >= goals.latency.target
    return replace(point, meets_goals=bool(meets))


def _goal_words(goals: Goals) -> str:
    parts = []
    if goals.quality_floor is not None:
        parts.append(f"quality floor {goals.quality_floor:g}")
    if goals.latency is not None:
        parts.append(
            f"{goals.latency.target:.0%} of requests within {goals.latency.threshold_ms:g} ms"
        )
    return " and ".join(parts)


def recommend(
    curve: Sequence[AdvicePoint], current: AdvicePoint, goals: Goals, *, task: str
) -> tuple[AdvicePoint | None, str]:
    """The cheapest point that meets ``goals``, and why (or why there is none)."""
    if goals.quality_floor is None and goals.latency is None:
        return None, (
            f"no quality floor or latency objective for task {task}: "
            "give one (quality_floor, latency_ms) or configure an objective"
        )
    wanted = _goal_words(goals)
    meeting = [p for p in curve if p.meets_goals]
    if not meeting:
        known = [p for p in curve if p.quality is not None]
        if goals.quality_floor is not None and not known:
            return None, (
                f"no threshold can be judged against {wanted}: the quality of the answers "
                "it would serve was not measured (too few labelled answers)"
            )
        if goals.quality_floor is not None:
            best = max(known, key=lambda p: (p.quality_low or 0.0, -p.threshold))
            return None, (
                f"no threshold meets {wanted}: the best is {best.quality:.3f} "
                f"(95% interval from {best.quality_low:.3f}) at threshold {best.threshold:.2f}"
            )
        return None, f"no threshold meets {wanted}"
    priced = all(p.cost_per_1k is not None for p in meeting)

    def price(p: AdvicePoint) -> float:
        return p.cost_per_1k if priced and p.cost_per_1k is not None else p.cloud_escalation_rate

    cheapest = min(price(p) for p in meeting)
    # Thresholds between two recorded confidences cost the same: keep the one nearest today's.
    ties = [p for p in meeting if math.isclose(price(p), cheapest, rel_tol=1e-9, abs_tol=1e-12)]
    chosen = min(ties, key=lambda p: (abs(p.threshold - current.threshold), p.threshold))
    measure = (
        f"{chosen.cost_per_1k:.4g} per 1,000 requests"
        if priced and chosen.cost_per_1k is not None
        else f"cloud escalation rate {chosen.cloud_escalation_rate:.1%}"
    )
    before = (
        f"{current.cost_per_1k:.4g}"
        if priced and current.cost_per_1k is not None
        else f"{current.cloud_escalation_rate:.1%}"
    )
    quality = "" if chosen.quality is None else f", predicted quality {chosen.quality:.3f}"
    if chosen.threshold == current.threshold:
        return chosen, (
            f"the current threshold {current.threshold:.2f} is already the cheapest "
            f"that meets {wanted} ({measure}{quality})"
        )
    basis = "" if priced else " (no prices: the fewest cloud escalations stand for cheapest)"
    return chosen, (
        f"threshold {chosen.threshold:.2f} is the cheapest that meets {wanted}{basis}: "
        f"{measure} against {before} at the current {current.threshold:.2f}{quality}"
    )


def advise(
    data: BucketSums,
    *,
    task: str,
    fleet: str | None,
    tier: str,
    goals: Goals,
    prices: CostSettings | None = None,
    cloud_model: str | None = None,
    options: ReplayOptions | None = None,
) -> Advice:
    """The routing what-if of ``task`` at ``tier`` from its bucket sums."""
    curve, current, fit, notes = replay(
        data, tier=tier, goals=goals, prices=prices, cloud_model=cloud_model, options=options
    )
    now = curve[current]
    recommended, reason = recommend(curve, now, goals, task=task)
    total = float(data.sums["attempts"].sum())
    return Advice(
        task=task,
        fleet=fleet,
        tier=tier,
        models=list(data.models),
        attempts=int(total),
        hours=data.hours,
        forced_share=float(data.sums["forced"].sum() / total),
        current_fit=fit,
        goals=goals,
        priced=curve[0].cost_per_1k is not None,
        current=now,
        curve=curve,
        recommended=recommended,
        reason=reason,
        notes=notes,
    )
