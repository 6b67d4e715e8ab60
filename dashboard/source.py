"""Where the dashboard reads from: analytics' public functions, behind one small interface.

Pages ask a :class:`Source` for reports and frames; :class:`AnalyticsSource` answers
with the analytics functions on a database engine. Tests hand pages a fake that
returns small frames, so callbacks are checked without a database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

import pandas as pd
from sqlalchemy import Engine

from analytics.advice import Advice, Goals, NoAdviceData, merged_goals
from analytics.advice_report import advice_report, advice_tasks
from analytics.alerting.queries import list_alerts, list_deliveries, list_silences
from analytics.config import AnalyticsSettings, CostSettings, Objective
from analytics.health import HealthReport, health_report
from analytics.objective_sums import objective_report, objective_series
from analytics.objectives import ObjectiveStatus
from analytics.requests import RequestReport, request_report
from analytics.rollups import read_segments
from analytics.tiers import TierComparison, tier_comparison
from analytics.timeseries import segment_series
from analytics.versions import VersionDrift, version_drift, version_series
from collector.config import PrivacySettings
from dashboard.period import TimeRange


class Source(Protocol):
    """What the pages read. ``fleet`` ``None`` means every fleet."""

    def fleets(self, *, fleet: str | None) -> list[str]:
        """Fleets the store holds segments of (only ``fleet`` when given)."""
        ...

    def health(self, period: TimeRange, *, by: Sequence[str], fleet: str | None) -> HealthReport:
        """The health report of the window against the baseline, split by ``by``."""
        ...

    def series(
        self, key: Mapping[str, str], *, start: datetime, end: datetime, step: int
    ) -> pd.DataFrame:
        """One segment's metrics per ``step`` seconds over ``[start, end)``."""
        ...

    def tiers(self, *, start: datetime, end: datetime, fleet: str | None) -> list[TierComparison]:
        """Each local tier against the cloud, per fleet and task."""
        ...

    def versions(self, period: TimeRange, *, fleet: str | None) -> list[VersionDrift]:
        """Version drift per fleet and model over the window."""
        ...

    def version_series(
        self, *, fleet: str, model: str, start: datetime, end: datetime, step: int
    ) -> pd.DataFrame:
        """Devices and attempts per version and time bucket."""
        ...

    def alerts(self, *, fleet: str | None, states: Sequence[str] | None) -> pd.DataFrame:
        """Alerts in ``states`` (all when ``None``), newest first."""
        ...

    def advice_tasks(self, *, start: datetime, end: datetime, fleet: str | None) -> list[str]:
        """Tasks whose local attempts the routing what-if can replay."""
        ...

    def advice(
        self, *, task: str, start: datetime, end: datetime, fleet: str | None, goals: Goals
    ) -> Advice | None:
        """The routing what-if of ``task``, or ``None`` without local attempts; goals
        ``goals`` leaves out come from the task's objectives."""
        ...

    def requests(self, period: TimeRange, *, fleet: str | None) -> RequestReport:
        """Requests that started in the window, per task and the tier of their first attempt."""
        ...

    def objectives(self, *, end: datetime, fleet: str | None) -> list[ObjectiveStatus]:
        """Every objective kind at ``end`` (only ``fleet``'s objectives when given)."""
        ...

    def objective_series(self, *, name: str, kind: str, end: datetime, step: int) -> pd.DataFrame:
        """One objective kind's budget left and burn rate per ``step`` over its period."""
        ...

    def deliveries(self, *, fleet: str | None) -> pd.DataFrame:
        """Deliveries of alerts to hooks, newest first."""
        ...

    def silences(self, *, fleet: str | None) -> pd.DataFrame:
        """Silences, active and expired."""
        ...


class AnalyticsSource:
    """A :class:`Source` that calls analytics on ``engine``, one connection per question."""

    def __init__(
        self,
        engine: Engine,
        *,
        settings: AnalyticsSettings,
        privacy: PrivacySettings | None = None,
        prices: CostSettings | None = None,
        objectives: Sequence[Objective] = (),
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.privacy = privacy
        self.prices = prices
        self.configured = {o.name: o for o in objectives}

    def fleets(self, *, fleet: str | None) -> list[str]:
        with self.engine.connect() as conn:
            segments = read_segments(conn, fleet=fleet)
        return sorted(set(segments["fleet"])) if len(segments) else []

    def health(self, period: TimeRange, *, by: Sequence[str], fleet: str | None) -> HealthReport:
        with self.engine.connect() as conn:
            return health_report(
                conn,
                end=period.end,
                window=period.end - period.window_start,
                baseline=None
                if period.baseline == "usual"
                else period.window_start - period.baseline_start,
                by=by,
                fleet=fleet,
                settings=self.settings,
                privacy=self.privacy,
            )

    def series(
        self, key: Mapping[str, str], *, start: datetime, end: datetime, step: int
    ) -> pd.DataFrame:
        with self.engine.connect() as conn:
            return segment_series(conn, key=key, start=start, end=end, step=step)

    def tiers(self, *, start: datetime, end: datetime, fleet: str | None) -> list[TierComparison]:
        with self.engine.connect() as conn:
            return tier_comparison(conn, start=start, end=end, fleet=fleet)

    def versions(self, period: TimeRange, *, fleet: str | None) -> list[VersionDrift]:
        with self.engine.connect() as conn:
            return version_drift(
                conn,
                start=period.window_start,
                end=period.end,
                baseline_start=period.baseline_start,
                settings=self.settings,
                fleet=fleet,
            )

    def version_series(
        self, *, fleet: str, model: str, start: datetime, end: datetime, step: int
    ) -> pd.DataFrame:
        with self.engine.connect() as conn:
            return version_series(conn, fleet=fleet, model=model, start=start, end=end, step=step)

    def alerts(self, *, fleet: str | None, states: Sequence[str] | None) -> pd.DataFrame:
        with self.engine.connect() as conn:
            return list_alerts(conn, fleet=fleet, states=states)

    def advice_tasks(self, *, start: datetime, end: datetime, fleet: str | None) -> list[str]:
        with self.engine.connect() as conn:
            return advice_tasks(conn, start=start, end=end, fleet=fleet)

    def advice(
        self, *, task: str, start: datetime, end: datetime, fleet: str | None, goals: Goals
    ) -> Advice | None:
        with self.engine.connect() as conn:
            try:
                return advice_report(
                    conn,
                    task=task,
                    start=start,
                    end=end,
                    goals=merged_goals(goals, self.configured.values(), task=task, fleet=fleet),
                    prices=self.prices,
                    fleet=fleet,
                )
            except NoAdviceData:
                return None

    def requests(self, period: TimeRange, *, fleet: str | None) -> RequestReport:
        with self.engine.connect() as conn:
            return request_report(
                conn,
                start=period.window_start,
                end=period.end,
                by=["task", "tier"],
                key={"fleet": fleet} if fleet is not None else None,
            )

    def objectives(self, *, end: datetime, fleet: str | None) -> list[ObjectiveStatus]:
        chosen = [o for o in self.configured.values() if fleet is None or o.fleet == fleet]
        with self.engine.connect() as conn:
            return objective_report(conn, chosen, end=end)

    def objective_series(self, *, name: str, kind: str, end: datetime, step: int) -> pd.DataFrame:
        with self.engine.connect() as conn:
            return objective_series(conn, self.configured[name], kind, end=end, step=step)

    def deliveries(self, *, fleet: str | None) -> pd.DataFrame:
        with self.engine.connect() as conn:
            return list_deliveries(conn, fleet=fleet)

    def silences(self, *, fleet: str | None) -> pd.DataFrame:
        with self.engine.connect() as conn:
            return list_silences(conn, fleet=fleet)
