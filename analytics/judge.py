"""Judge a report's segments: each tested metric against its baseline, drift, canaries, silence.

Pure. For every segment with enough window attempts each tested metric is
compared with the best baseline its history allows: the same hours of earlier
days with their day-to-day spread counted as noise (``seasonal``), else the
period before the window (``preceding``). Each is also compared with a long-ago
reference (``drift``), each model version with an earlier version of the same
model (the canary), and each segment's traffic with its usual level
(``silence``); and each node and hardware class inside a segment is tested
like a segment of its own (its ``subject``). The Benjamini-Hochberg procedure
adjusts the p-values of the segments' tests together, and those of the parts'
tests together; a test becomes a finding when its adjusted p-value is within
the FDR level and its change passes the metric's practical-significance
threshold.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics import aggregates, estimates, onset, silence
from analytics.aggregates import Aggregates, reindex
from analytics.attribution import explain_change
from analytics.baselines import Baseline, Period, Plan, span
from analytics.canary import canary_pairs, shared_totals
from analytics.comparisons import (
    Comparison,
    DaySpread,
    against_days,
    against_period,
    against_reference,
    day_spread,
)
from analytics.config import AnalyticsSettings, Rules
from analytics.durations import parse_duration
from analytics.estimates import Estimate, estimate
from analytics.findings import BASELINE, Finding, SegmentHealth, classify, finding_order, status_of
from analytics.metrics import AllowedTiers, Grouping, Segmented, grouping, metric_dict, segment_by
from analytics.metrics import segment_metrics as metrics_of
from analytics.mix import standardise, task_mix
from analytics.significance import benjamini_hochberg
from analytics.vocabulary import metric as vocabulary_metric
from analytics.wording import AGAINST, ago, comparison_text, silence_text

#: Dimensions whose values come and go with rollouts: their segments are not judged silent.
VERSION_DIMENSIONS = ("model_version", "app_version")
#: Fewest slices with data for the period before the window to be judged by its slices.
MIN_SLICES = 3


@dataclass(frozen=True)
class Observed:
    """Per-segment-id aggregates of every period a report reads, with the segments' dimensions.

    ``days`` follow :attr:`Plan.days`; ``reference`` is each segment's drift
    reference (its fleet's own where one is pinned) added up over the
    reference's days, ``None`` without one; ``slices`` follow :attr:`Plan.slices`
    (empty when the calendar serves).
    """

    segments: pd.DataFrame
    window: Aggregates
    preceding: Aggregates
    days: tuple[Aggregates, ...] = ()
    reference: Aggregates | None = None
    slices: tuple[Aggregates, ...] = ()


@dataclass(frozen=True)
class Verdicts:
    """The judged segments of one report, how many tests the FDR control covered, the baseline."""

    segments: list[SegmentHealth]
    tests: int
    baseline: Baseline


@dataclass(frozen=True)
class _Test:
    """One test run: which segment and metric, of which kind, against what, and its outcome."""

    segment: int
    metric: str
    kind: str
    baseline: Baseline
    reference: str
    window_value: float | None
    expected: float | None
    p_value: float
    method: str
    subject: tuple[tuple[str, str], ...] = ()


def _number(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _kind(metric: str) -> str:
    if metric in estimates.RATES:
        return "rate"
    if metric in estimates.PERCENTILES:
        return "percentile"
    return "mean"


class _Sizes:
    """Per-segment minimum sizes from each segment's fleet rules."""

    def __init__(self, rules: Sequence[Rules], settings: AnalyticsSettings) -> None:
        self.attempts = np.array([r.min_attempts for r in rules], dtype=float)
        self.baseline = np.array([r.min_baseline_attempts for r in rules], dtype=float)
        self.values = np.array([r.min_values for r in rules], dtype=float)
        self.tail = float(settings.min_tail_attempts)
        self.day = float(settings.seasonal_day_min_attempts)

    def enough(
        self, metric: str, est: Estimate, attempts: np.ndarray, floor: np.ndarray
    ) -> np.ndarray:
        """Where ``est`` rests on enough data: ``floor`` attempts, and values or tail too."""
        ok = attempts >= floor
        if metric in estimates.PERCENTILES:
            ok &= est.count * (1 - estimates.PERCENTILES[metric]) >= self.tail
        elif metric in estimates.MEANS:
            ok &= est.count >= self.values
        elif metric == "cloud_escalation_rate":
            ok &= est.count >= floor
        return np.asarray(ok, dtype=bool)


@dataclass(frozen=True)
class _Sides:
    """The grouped baseline periods one metric is tested against."""

    preceding: Segmented
    days: list[Segmented]
    slices: list[Segmented]
    reference: Segmented | None


class _Report:
    """The state of judging one report: grouped sides, sizes, collected tests."""

    def __init__(
        self,
        observed: Observed,
        plan: Plan,
        *,
        by: Sequence[str],
        fleet: str | None,
        settings: AnalyticsSettings,
        allowed_tiers: AllowedTiers | None,
    ) -> None:
        self.observed, self.plan, self.settings = observed, plan, settings
        self.allowed_tiers = allowed_tiers
        self.by = tuple(by)
        self.groups = grouping(observed.segments, by)

        def seg(aggs: Aggregates) -> Segmented:
            return segment_by(aggs, observed.segments, self.groups, allowed_tiers=allowed_tiers)

        self.window = seg(observed.window)
        self.preceding = seg(observed.preceding)
        covered = [i for i, d in enumerate(observed.days) if d.column("attempts").sum() > 0]
        self.day_periods: list[Period] = [plan.days[i] for i in covered]
        #: The per-segment-id aggregates of the days that hold data, and the same grouped.
        self.day_aggregates = [observed.days[i] for i in covered]
        self.days = [seg(a) for a in self.day_aggregates]
        self.seasonal = not plan.explicit and len(self.days) >= settings.seasonal_min_days
        sliced = [a for a in observed.slices if a.column("attempts").sum() > 0]
        self.slice_aggregates = sliced
        #: The slices of the period before the window, grouped (read while a calendar is short).
        self.slices = [seg(a) for a in sliced]
        self.reference = seg(observed.reference) if observed.reference is not None else None
        self.escalation = "tier" not in self.by
        n = len(self.groups.keys)
        self.keys = [self.window.key(i) for i in range(n)]
        rules = [settings.for_fleet(k.get("fleet", fleet)) for k in self.keys]
        self.rules = rules
        self.sizes = _Sizes(rules, settings)
        self.fleet = fleet
        self.attempts = self.window.aggs.column("attempts")
        self.tests: list[_Test] = []
        self.judged = np.zeros(n, dtype=bool)
        self.seasonal_baseline = span("seasonal", self.day_periods) if self.days else None
        self.preceding_baseline = Baseline("preceding", plan.preceding.start, plan.preceding.end)
        self.mix = task_mix(observed.segments, self.by, self.groups)
        self._at_window_mix: _Sides | None = None

    def sides(self, metric: str) -> _Sides:
        """The baseline sides ``metric`` is tested against.

        A latency percentile of segments that span several tasks is tested against
        baselines at the window's mix of tasks (:mod:`analytics.mix`), so that more
        requests of a slow task are not read as a slowdown.
        """
        plain = _Sides(self.preceding, self.days, self.slices, self.reference)
        if metric not in estimates.PERCENTILES or self.mix is None:
            return plain
        if self._at_window_mix is None:
            mix, window_cells = self.mix, self.mix.cells(self.observed.window)

            def at_mix(per_id: Aggregates, side: Segmented) -> Segmented:
                aggs = standardise(mix, side.aggs, per_id, window_cells)
                return dataclasses.replace(side, aggs=aggs)

            reference = self.reference
            if self.observed.reference is not None and reference is not None:
                reference = at_mix(self.observed.reference, reference)
            self._at_window_mix = _Sides(
                at_mix(self.observed.preceding, self.preceding),
                [at_mix(a, d) for a, d in zip(self.day_aggregates, self.days, strict=True)],
                [at_mix(a, s) for a, s in zip(self.slice_aggregates, self.slices, strict=True)],
                reference,
            )
        return self._at_window_mix

    def local(self, side: Segmented) -> np.ndarray | None:
        return side.local_requests if self.escalation else None

    def reference_baseline(self) -> tuple[Baseline, str, int] | None:
        """The drift reference's span, how it is worded, and how many days it pools."""
        fleet = self.fleet
        if fleet is None and "fleet" in self.by and len({k["fleet"] for k in self.keys}) == 1:
            fleet = self.keys[0]["fleet"] if self.keys else None
        periods = self.plan.reference.get(fleet) if fleet is not None else None
        if periods:
            return span("reference", periods), "in the reference period", len(periods)
        periods = self.plan.reference.get(None)
        if not periods:
            return None
        age = self.plan.window.start - periods[0].start
        return span("reference", periods), ago(age), len(periods)

    def add(self, mask: np.ndarray, metric: str, kind: str, baseline: Baseline,
            window: Estimate, cmp: Comparison, reference: str = BASELINE) -> None:  # fmt: skip
        for i in np.nonzero(mask)[0]:
            self.tests.append(
                _Test(
                    int(i),
                    metric,
                    kind,
                    baseline,
                    reference,
                    _number(window.value[i]),
                    _number(cmp.expected[i]),
                    float(cmp.p_value[i]),
                    cmp.method,
                )
            )

    def spread(self, metric: str, periods: Sequence[Segmented]) -> DaySpread:
        """``metric`` pooled over ``periods`` (days or slices), each counted where it has enough."""
        values = [estimate(metric, p.aggs, local_requests=self.local(p)) for p in periods]
        floor = np.full(len(self.attempts), self.sizes.day)
        usable = np.stack(
            [
                self.sizes.enough(metric, e, p.aggs.column("attempts"), floor)
                for e, p in zip(values, periods, strict=True)
            ]
        )
        return day_spread(values, usable)

    def metric_tests(self, metric: str, *, calendar_only: bool = False) -> None:
        """The change and drift tests of one metric over every segment.

        ``calendar_only`` leaves out the tests against the period before the window
        (whole or in slices): only the calendar and the drift reference are asked.
        """
        kind = _kind(metric)
        sides = self.sides(metric)
        w = estimate(metric, self.window.aggs, local_requests=self.local(self.window))
        enough_w = self.sizes.enough(metric, w, self.attempts, self.sizes.attempts)
        use_days = np.zeros(len(self.attempts), dtype=bool)
        spread: DaySpread | None = None
        if sides.days:
            spread = self.spread(metric, sides.days)
            if self.seasonal:
                seasonal = against_days(
                    w,
                    spread,
                    min_days=self.settings.seasonal_min_days,
                    logged=kind == "percentile",
                )
                use_days = enough_w & (spread.days >= self.settings.seasonal_min_days)
                assert self.seasonal_baseline is not None
                self.add(use_days, metric, "change", self.seasonal_baseline, w, seasonal)
        if calendar_only:
            self._drift_test(metric, w, enough_w, spread)
            return
        if len(sides.slices) >= MIN_SLICES:
            # Short history: the window against the slices of the period before it, so
            # that a peak no worse than the day's other hours stays within their spread.
            hours = self.spread(metric, sides.slices)
            sliced = against_days(w, hours, min_days=MIN_SLICES, logged=kind == "percentile")
            use_slices = enough_w & (hours.days >= MIN_SLICES) & ~use_days
            self.add(use_slices, metric, "change", self.preceding_baseline, w, sliced)
            use_days = use_days | use_slices
        b = estimate(metric, sides.preceding.aggs, local_requests=self.local(sides.preceding))
        b_attempts = sides.preceding.aggs.column("attempts")
        enough_b = self.sizes.enough(metric, b, b_attempts, self.sizes.baseline)
        events = None
        if kind == "rate":
            events = (w.value * w.count, b.value * b.count)
            events = (np.nan_to_num(np.rint(events[0])), np.nan_to_num(np.rint(events[1])))
        use_pre = enough_w & enough_b & ~use_days
        if use_pre.any():
            cmp = against_period(kind, w, b, events=events, exact_below=self.settings.exact_below)
            self.add(use_pre, metric, "change", self.preceding_baseline, w, cmp)
        self.judged |= use_days | use_pre
        self._drift_test(metric, w, enough_w, spread)

    def _drift_test(
        self, metric: str, w: Estimate, enough_w: np.ndarray, spread: DaySpread | None
    ) -> None:
        """``metric``'s window against the drift reference, its noise from the days' spread."""
        reference = self.reference_baseline()
        side = self.sides(metric).reference
        if side is not None and spread is not None and reference is not None:
            baseline, _, pooled = reference
            r = estimate(metric, side.aggs, local_requests=self.local(side))
            r_attempts = side.aggs.column("attempts")
            enough_r = self.sizes.enough(metric, r, r_attempts, self.sizes.baseline)
            drift = against_reference(w, r, spread, reference_days=pooled)
            use = enough_w & enough_r & np.isfinite(spread.trend_tau2)
            self.add(use, metric, "drift", baseline, w, drift)

    def canary_tests(self) -> None:
        """Each version against an earlier version of the same model, in the same window."""
        if not self.settings.canary:
            return
        pairs = canary_pairs(
            self.groups,
            self.observed.segments,
            window_attempts=self.attempts,
            baseline_attempts=self.preceding.aggs.column("attempts")
            + sum((d.aggs.column("attempts") for d in self.days), np.zeros(len(self.attempts))),
            min_attempts=self.sizes.attempts,
        )
        code = self.groups.code
        baseline = Baseline("reference", self.plan.window.start, self.plan.window.end)
        for i, j in pairs:
            mine = code.index[code.to_numpy() == i].to_numpy()
            theirs = code.index[code.to_numpy() == j].to_numpy()
            a, b, shared = shared_totals(self.observed.segments, self.observed.window, mine, theirs)
            if not shared:
                continue
            label = f"model_version {self.keys[j]['model_version']}"
            for test in one_row_tests(a, b, rules=self.rules[i], settings=self.settings):
                self.tests.append(
                    dataclasses.replace(test, segment=i, reference=label, baseline=baseline)
                )
            self.judged[i] = True

    def silence_tests(self) -> None:
        """Segments, and their nodes and hardware classes, whose traffic fell far below usual."""
        if any(d in self.by for d in VERSION_DIMENSIONS):
            return
        if (
            self.plan.window.seconds
            < parse_duration(self.settings.silence_min_window).total_seconds()
        ):
            return
        window_s = self.plan.window.seconds
        if self.seasonal:
            days = np.stack([d.aggs.column("attempts") for d in self.days])
            baseline = self.seasonal_baseline
            expected, p = silence.against_days(self.attempts, days)
        else:
            scale = window_s / self.plan.preceding.seconds
            baseline = self.preceding_baseline
            expected, p = silence.against_period(
                self.attempts, self.preceding.aggs.column("attempts") * scale
            )
        assert baseline is not None
        quiet = silence.is_quiet(
            self.attempts, expected, p, ratio=self.settings.silence_ratio,
            min_expected=self.sizes.attempts,
        )  # fmt: skip
        for i in np.nonzero(quiet)[0]:
            self.tests.append(
                _Test(int(i), "attempts", "silence", baseline, BASELINE,
                      float(self.attempts[i]), float(expected[i]), float(p[i]), "silence")
            )  # fmt: skip
            self.judged[i] = True
        for dim in self.settings.silence_dimensions:
            if dim in self.by:
                continue
            self._child_silence(dim, quiet, baseline)

    def inner_tests(self) -> None:
        """Each node or hardware class inside a segment against its own baseline and reference.

        One edge node in trouble at its peak, or one hardware class drifting, is a
        small part of its tier: the tier's own tests see it diluted among the
        others. Each such sub-segment is tested as if the report were split by
        it; its tests join the report's false-discovery control and, when they
        find something, stand on the parent segment with the sub-segment as
        their ``subject``. Segments with a single sub-segment are left out (their
        tests would repeat the segment's own).

        Only tests against the calendar (and the drift reference) count: a part
        is small, and until the calendar has enough days the period before the
        window holds too few of its hours for their spread to be known (a phone
        model's few devices heating up in a game at night stand out from one
        day's hours, not from a week's).
        """
        for dim in self.settings.inner_dimensions:
            if dim in self.by or dim in VERSION_DIMENSIONS:
                continue
            inner = _Report(
                # parts are judged against the calendar only: no slices to group
                dataclasses.replace(self.observed, slices=()),
                self.plan,
                by=(*self.by, dim),
                fleet=self.fleet,
                settings=self.settings,
                allowed_tiers=self.allowed_tiers,
            )
            parents = self._parents(inner, dim)
            if not (parents >= 0).any():
                continue
            for metric in estimates.TESTED:
                if metric == "cloud_escalation_rate" and not inner.escalation:
                    continue
                inner.metric_tests(metric, calendar_only=True)
            for test in inner.tests:
                parent = int(parents[test.segment])
                if parent < 0:
                    continue
                value = inner.keys[test.segment][dim]
                self.tests.append(
                    dataclasses.replace(test, segment=parent, subject=((dim, value),))
                )

    def ids_of(self, i: int, subject: dict[str, str]) -> np.ndarray:
        """The segment ids of segment ``i`` whose dimensions match ``subject``."""
        segments = self.observed.segments
        mask = np.array(self.groups.code.reindex(segments.index) == i, dtype=bool)
        for dim, value in subject.items():
            mask &= np.array(segments[dim].astype(str) == value, dtype=bool)
        return np.asarray(segments.index[mask].to_numpy())

    def _parents(self, inner: _Report, dim: str) -> np.ndarray:
        """The segment of this report each of ``inner``'s lies in; -1 where none is tested.

        An inner segment without a value of ``dim`` (a device has no node) or alone
        in its parent is not tested.
        """
        index = {tuple(k.values()): i for i, k in enumerate(self.keys)}
        parents = np.full(len(inner.keys), -1, dtype=np.int64)
        for c, key in enumerate(inner.keys):
            if key[dim] == "":
                continue
            parents[c] = index.get(tuple(v for d, v in key.items() if d != dim), -1)
        valid = parents >= 0
        counts = np.bincount(parents[valid], minlength=len(self.keys))
        parents[valid & (counts[np.where(valid, parents, 0)] < 2)] = -1
        return parents

    def _child_silence(self, dim: str, quiet: np.ndarray, baseline: Baseline) -> None:
        segments = self.observed.segments
        ids = segments.index.to_numpy()
        frame = pd.DataFrame(
            {
                "group": self.groups.code.reindex(ids).to_numpy(),
                "child": segments[dim].astype(str).to_numpy(),
                "w": reindex(self.observed.window, ids).column("attempts"),
            }
        )
        frame = frame[(frame["child"] != "") & (frame["group"] >= 0)]
        if self.seasonal:
            for k, d in enumerate(self.day_aggregates):
                frame[f"d{k}"] = reindex(d, ids[frame.index]).column("attempts")
        else:
            frame["b"] = reindex(self.observed.preceding, ids[frame.index]).column("attempts")
        sums = frame.groupby(["group", "child"]).sum()
        if sums.empty:
            return
        observed = sums["w"].to_numpy(dtype=float)
        if self.seasonal:
            days = sums[[c for c in sums.columns if c.startswith("d")]].to_numpy(dtype=float).T
            expected, p = silence.against_days(observed, days)
        else:
            scale = self.plan.window.seconds / self.plan.preceding.seconds
            expected, p = silence.against_period(observed, sums["b"].to_numpy(dtype=float) * scale)
        groups = sums.index.get_level_values("group").to_numpy(dtype=int)
        floor = self.sizes.attempts[groups]
        found = silence.is_quiet(
            observed, expected, p, ratio=self.settings.silence_ratio, min_expected=floor
        )
        # A segment silent as a whole says it all; its parts would only repeat it.
        found &= ~quiet[groups]
        children = sums.index.get_level_values("child")
        for r in np.nonzero(found)[0]:
            self.tests.append(
                _Test(int(groups[r]), "attempts", "silence", baseline, BASELINE,
                      float(observed[r]), float(expected[r]), float(p[r]), "silence",
                      subject=((dim, str(children[r])),))
            )  # fmt: skip


def one_row_tests(
    window: Aggregates, reference: Aggregates, *, rules: Rules, settings: AnalyticsSettings
) -> list[_Test]:
    """Every tested metric of a one-row ``window`` against a one-row ``reference``."""
    sizes = _Sizes([rules], settings)
    out = []
    attempts_w, attempts_r = window.column("attempts"), reference.column("attempts")
    local = None
    for metric in estimates.TESTED:
        if metric == "cloud_escalation_rate":
            continue
        w = estimate(metric, window, local_requests=local)
        r = estimate(metric, reference, local_requests=local)
        if not (
            sizes.enough(metric, w, attempts_w, sizes.attempts)[0]
            and sizes.enough(metric, r, attempts_r, sizes.attempts)[0]
        ):
            continue
        kind = _kind(metric)
        events = None
        if kind == "rate":
            events = (np.rint(w.value * w.count), np.rint(r.value * r.count))
        cmp = against_period(kind, w, r, events=events, exact_below=settings.exact_below)
        out.append(
            _Test(0, metric, "change", Baseline("reference", _EPOCH, _EPOCH), BASELINE,
                  _number(w.value[0]), _number(cmp.expected[0]), float(cmp.p_value[0]),
                  cmp.method)
        )  # fmt: skip
    return out


_EPOCH = pd.Timestamp(0, tz="UTC").to_pydatetime()


def _finding(test: _Test, p_adjusted: float, settings: AnalyticsSettings, rules: Rules,
             drift_words: str) -> Finding | None:  # fmt: skip
    """The finding a test makes, or ``None`` when it is not significant or not practical."""
    if p_adjusted > settings.fdr:
        return None
    if test.kind == "silence":
        observed, expected = test.window_value or 0.0, test.expected or 0.0
        severe = observed <= settings.silence_severe_ratio * expected
        return Finding(
            metric="attempts",
            window_value=observed,
            baseline_value=expected,
            relative_change=observed / expected - 1 if expected else None,
            p_value=test.p_value,
            p_adjusted=p_adjusted,
            severity="degraded" if severe else "warn",
            explanation=silence_text(observed, expected, since=None, subject=dict(test.subject)),
            direction="worse",
            test=test.method,
            kind="silence",
            baseline=test.baseline,
            subject=dict(test.subject),
        )
    meta = vocabulary_metric(test.metric)
    assert meta.family is not None
    verdict = classify(
        test.window_value,
        test.expected,
        worse=meta.worse,
        threshold=rules.thresholds[meta.family],
    )
    if verdict is None:
        return None
    severity, direction, relative = verdict
    if test.subject and direction != "worse":
        # A part of a segment doing better than usual is not news about the segment.
        return None
    if test.reference != BASELINE:
        against = f"on {test.reference}"
    elif test.kind == "drift":
        against = drift_words
    else:
        against = AGAINST[test.baseline.kind]
    return Finding(
        metric=test.metric,
        window_value=test.window_value,
        baseline_value=test.expected,
        relative_change=relative,
        p_value=test.p_value,
        p_adjusted=p_adjusted,
        severity=severity,
        explanation=comparison_text(
            test.metric,
            test.window_value,
            test.expected,
            against=against,
            change=relative,
            p_adjusted=p_adjusted,
            subject=dict(test.subject),
        ),
        direction=direction,
        test=test.method,
        reference=test.reference,
        kind="drift" if test.kind == "drift" else "change",
        baseline=test.baseline,
        subject=dict(test.subject),
    )


def _privacy_finding(key: dict[str, str], window: float, baseline: float) -> Finding:
    where = f"tier {key['tier']}" if "tier" in key else "a tier"
    count = int(window)
    plural = "s" if count != 1 else ""
    return Finding(
        metric="privacy_violations",
        window_value=float(count),
        baseline_value=float(baseline),
        relative_change=None,
        p_value=None,
        p_adjusted=None,
        severity="degraded",
        explanation=(
            f"{count} privacy violation{plural}: sensitive data ran on {where} "
            "that the fleet's privacy policy forbids"
        ),
        direction="worse",
        test="policy",
    )


def _keep_strongest(found: list[Finding]) -> list[Finding]:
    """One finding per metric family, kind, reference and subject, the strongest.

    A drift stands only where no change of its family was found for the same
    subject.
    """
    found = sorted(found, key=finding_order)
    seen: set[tuple[str, str, str, str]] = set()
    changed: set[tuple[str, str]] = set()
    out = []
    for f in found:
        if f.kind == "change" and f.reference == BASELINE:
            changed.add((_family(f), _subject(f)))
    for f in found:
        family, subject = _family(f), _subject(f)
        key = (family if f.kind != "silence" else subject, f.kind, f.reference, subject)
        if key in seen or (f.kind == "drift" and (family, subject) in changed):
            continue
        seen.add(key)
        out.append(f)
    return out


def _family(f: Finding) -> str:
    return vocabulary_metric(f.metric).family or f.metric


def _subject(f: Finding) -> str:
    return ",".join(f"{k}={v}" for k, v in f.subject.items())


def _drop_explained_parts(found: list[Finding]) -> list[Finding]:
    """A part's change or drift where the whole segment's finding of its family already tells it.

    The segment's finding tells it when it names that part among the
    sub-segments behind it, or says the change is shared across that dimension.
    A part the segment's finding leaves unnamed keeps its own finding.
    """
    told: set[tuple[str, str, str]] = set()
    for f in found:
        if f.subject or f.kind not in ("change", "drift") or f.reference != BASELINE:
            continue
        for part in f.attribution:
            for dim, value in part.key.items():
                told.add((_family(f), dim, value))
        for dim in f.across:
            told.add((_family(f), dim, "*"))
    out = []
    for f in found:
        if f.subject and f.kind != "silence":
            ((dim, value),) = f.subject.items()
            if {(_family(f), dim, value), (_family(f), dim, "*")} & told:
                continue
        out.append(f)
    return out


_ORDER = {"degraded": 0, "warn": 1, "insufficient_data": 2, "ok": 3}


def judge(
    observed: Observed,
    plan: Plan,
    *,
    by: Sequence[str],
    fleet: str | None,
    settings: AnalyticsSettings,
    allowed_tiers: AllowedTiers | None = None,
) -> Verdicts:
    """The health of every segment with window attempts or a silence, worst first."""
    report = _Report(
        observed, plan, by=by, fleet=fleet, settings=settings, allowed_tiers=allowed_tiers
    )
    for metric in estimates.TESTED:
        if metric == "cloud_escalation_rate" and not report.escalation:
            continue
        report.metric_tests(metric)
    report.canary_tests()
    report.silence_tests()
    report.inner_tests()

    tests = report.tests
    # Two families, each under its own false-discovery control: the segments' own
    # tests, and those of the parts inside them. A fleet with many phone models
    # would otherwise spread the segments' control over thousands of part tests.
    adjusted = np.ones(len(tests))
    for family in (
        [i for i, t in enumerate(tests) if not t.subject or t.kind == "silence"],
        [i for i, t in enumerate(tests) if t.subject and t.kind != "silence"],
    ):
        if family:
            adjusted[family] = benjamini_hochberg([tests[i].p_value for i in family])
    reference = report.reference_baseline()
    drift_words = reference[1] if reference is not None else ""
    findings: dict[int, list[Finding]] = {}
    for test, p_adj in zip(tests, adjusted, strict=True):
        finding = _finding(test, float(p_adj), settings, report.rules[test.segment], drift_words)
        if finding is not None:
            findings.setdefault(test.segment, []).append(finding)

    window_metrics = metrics_of(report.window)
    baseline_side = _pooled(report.days) if report.seasonal else report.preceding
    baseline_metrics = metrics_of(baseline_side)
    violations_w = report.window.privacy_violations
    violations_b = baseline_side.privacy_violations
    out = []
    for i in range(len(report.keys)):
        found = _keep_strongest(findings.get(i, []))
        if report.attempts[i] <= 0 and not found:
            continue
        found = [_dated_drift(_attribute(f, i, report), i, report) for f in found]
        found = _drop_explained_parts(found)
        if violations_w[i] > 0:
            found.insert(0, _privacy_finding(report.keys[i], violations_w[i], violations_b[i]))
        found.sort(key=finding_order)
        judged = bool(report.judged[i]) and (
            report.attempts[i] >= report.sizes.attempts[i]
            or any(f.kind == "silence" for f in found)
        )
        out.append(
            SegmentHealth(
                key=report.keys[i],
                status=status_of(found, judged=judged),
                metrics=metric_dict(window_metrics.iloc[i]),
                findings=found,
                baseline_metrics=metric_dict(baseline_metrics.iloc[i]),
            )
        )
    out.sort(key=lambda h: (_ORDER[h.status], tuple(h.key.values())))
    if report.seasonal and report.seasonal_baseline is not None:
        used = report.seasonal_baseline
    else:
        used = report.preceding_baseline
    return Verdicts(out, len(tests), used)


def _pooled(sides: Sequence[Segmented]) -> Segmented:
    """Several periods of one grouping added into one."""
    first = sides[0]
    return Segmented(
        first.by,
        first.keys,
        aggregates.combine([s.aggs for s in sides]),
        sum((s.local_requests for s in sides), np.zeros_like(first.local_requests)),
        sum((s.privacy_violations for s in sides), np.zeros_like(first.privacy_violations)),
    )


def _dated_drift(finding: Finding, i: int, report: _Report) -> Finding:
    """A drift dated by the change point of its segment's (or sub-segment's) value over the days."""
    if finding.kind != "drift" or not report.days:
        return finding
    meta = vocabulary_metric(finding.metric)
    order = sorted(range(len(report.days)), key=lambda k: report.day_periods[k].start)
    starts = [report.day_periods[k].start for k in order] + [report.plan.window.start]
    values, weights = [], []
    if finding.subject:
        # A sub-segment's drift is dated on its own days, not on its segment's.
        ids = report.ids_of(i, finding.subject)
        if finding.metric == "cloud_escalation_rate" or not len(ids):
            return finding
        for aggs in [report.day_aggregates[k] for k in order] + [report.observed.window]:
            est = estimate(finding.metric, reindex(aggs, ids).total(), local_requests=None)
            values.append(est.scale[0])
            weights.append(est.count[0])
    else:
        for side in [report.days[k] for k in order] + [report.window]:
            est = estimate(finding.metric, side.aggs, local_requests=report.local(side))
            values.append(est.scale[i])
            weights.append(est.count[i])
    worse = meta.worse if finding.direction == "worse" else -meta.worse
    at = onset.step_onset(np.array(values), np.array(weights), worse=worse)
    return finding if at is None else dataclasses.replace(finding, onset=starts[at])


def _attribute(finding: Finding, i: int, report: _Report) -> Finding:
    """The finding with the sub-segments that explain it, or the dimensions it spreads across."""
    if (
        finding.direction != "worse"
        or finding.reference != BASELINE
        or finding.kind == "silence"
        or finding.baseline is None
        or finding.subject
    ):
        return finding
    observed = report.observed
    code = report.groups.code
    ids = code.index[code.to_numpy() == i].to_numpy()
    if finding.kind == "drift":
        if observed.reference is None:
            return finding
        base = reindex(observed.reference, ids)
    elif finding.baseline.kind == "seasonal":
        base = reindex(aggregates.combine(report.day_aggregates), ids)
    else:
        base = reindex(observed.preceding, ids)
    dims = [d for d in report.settings.attribution_dimensions if d not in report.by]
    explained = explain_change(
        finding.metric,
        window=reindex(observed.window, ids),
        baseline=base,
        segments=observed.segments,
        dimensions=dims,
        worse=vocabulary_metric(finding.metric).worse,
        alpha=report.settings.attribution_alpha,
        max_segments=report.settings.attribution_max_segments,
        max_depth=report.settings.attribution_max_depth,
    )
    return dataclasses.replace(finding, attribution=explained.parts, across=explained.across)


def compare(
    window: Aggregates,
    reference: Aggregates,
    *,
    label: str,
    rules: Rules,
    settings: AnalyticsSettings,
) -> list[Finding]:
    """Findings of one-row ``window`` aggregates against one-row ``reference`` aggregates.

    The Benjamini-Hochberg adjustment covers these tests only; ``label`` names the
    reference in explanations (e.g. ``model_version 2.1.0``).
    """
    tests = [
        dataclasses.replace(t, reference=label)
        for t in one_row_tests(window, reference, rules=rules, settings=settings)
    ]
    adjusted = benjamini_hochberg([t.p_value for t in tests])
    found = [
        _finding(t, float(p), settings, rules, "") for t, p in zip(tests, adjusted, strict=True)
    ]
    out = [dataclasses.replace(f, baseline=None) for f in found if f is not None]
    return sorted(_keep_strongest(out), key=finding_order)


__all__ = ["Grouping", "Observed", "Verdicts", "compare", "judge", "one_row_tests"]
