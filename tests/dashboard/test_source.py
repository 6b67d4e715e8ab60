"""The dashboard's source on a real store: the advice questions the Advice page asks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from analytics.advice import Goals
from analytics.config import AnalyticsSettings
from dashboard.source import AnalyticsSource
from tests.analytics.advice_fleet import HOUR, PRICES, write_advice_fleet

END = datetime.fromtimestamp(HOUR + 3600, UTC)
START = END - timedelta(days=7)


def test_advice_through_the_source(engine: Engine) -> None:
    write_advice_fleet(engine)
    source = AnalyticsSource(engine, settings=AnalyticsSettings(), prices=PRICES)
    assert source.advice_tasks(start=START, end=END, fleet=None) == ["photo-tag"]
    assert source.advice_tasks(start=START, end=END, fleet="elsewhere") == []
    advice = source.advice(
        task="photo-tag", start=START, end=END, fleet=None, goals=Goals(quality_floor=0.6)
    )
    assert advice is not None
    assert (advice.current.threshold, advice.current.cost_per_1k) == (0.26, 125.0)
    assert advice.recommended is not None and advice.recommended.threshold == 0.25
    assert source.advice(task="doc-scan", start=START, end=END, fleet=None, goals=Goals()) is None
