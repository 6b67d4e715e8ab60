"""One edge node in trouble, judged inside its tier, end to end through a real store.

Twelve edge nodes serve the same hour on each of the seven earlier days and today. Half an hour
into today's hour ``edge-2`` turns slow and starts failing; the tier's own
numbers barely move (one node of twelve, for half the hour). The report by tier
names the node, dates the change from the node's own series and says what it
was compared with.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import Engine

from analytics.config import AnalyticsSettings
from analytics.health import health_report
from collector.normalise import AttemptRow, Batch
from collector.store import Store
from tests.analytics.synthetic import Profile, attempt_rows, segment_key

END = datetime(2025, 3, 6, 16, 0, tzinfo=UTC)
NODES = [f"edge-{i}" for i in range(1, 13)]
NORMAL = Profile(attempts=600, error_rate=0.01, latency_median_ms=80.0, latency_sigma=0.3)
TROUBLE = NORMAL.degraded(latency_median_ms=160.0, error_rate=0.15)


def _hour(start_s: int, node: str, rng: np.random.Generator, *, troubled: bool) -> list[AttemptRow]:
    key = segment_key(tier="edge", node=node, model="tagger-m", model_version="3.0.0")
    if not troubled:
        return attempt_rows(key, NORMAL, start_s=start_s, minutes=60, rng=rng)
    half = NORMAL.degraded(attempts=NORMAL.attempts // 2)
    worse = TROUBLE.degraded(attempts=NORMAL.attempts // 2)
    return attempt_rows(key, half, start_s=start_s, minutes=30, rng=rng) + attempt_rows(
        key, worse, start_s=start_s + 1800, minutes=30, rng=rng
    )


@pytest.fixture
def store(engine: Engine) -> Engine:
    rng = np.random.default_rng(11)
    end_s = int(END.timestamp())
    rows: list[AttemptRow] = []
    for day in range(8):
        start = end_s - 3600 - day * 86_400
        for node in NODES:
            rows += _hour(start, node, rng, troubled=day == 0 and node == "edge-2")
    Store(engine).write(Batch(attempts=rows), received_ns=end_s * 1_000_000_000)
    return engine


def test_a_node_in_trouble_is_named_dated_and_compared_with_its_own_usual(store: Engine) -> None:
    with store.connect() as conn:
        report = health_report(
            conn,
            end=END,
            window=timedelta(hours=1),
            baseline=None,
            by=("tier",),
            fleet=None,
            settings=AnalyticsSettings(),
        )
    assert report.baseline.kind == "seasonal"
    (edge,) = report.segments
    assert edge.key == {"tier": "edge"}
    assert edge.status == "degraded"
    parts = [f for f in edge.findings if f.subject]
    # the node's median latency, against the node's own usual hour (its 600 attempts
    # an hour are too few for its tail percentiles to be judged)
    assert [(f.metric, f.subject) for f in parts] == [("latency_p50_ms", {"node": "edge-2"})]
    (latency,) = parts
    assert latency.kind == "change" and latency.direction == "worse"
    assert latency.baseline is not None and latency.baseline.kind == "seasonal"
    # e.g. "node=edge-2 p50 latency 114 ms vs 80 ms usual at this hour (+43%), p=0.012"
    assert latency.explanation.startswith("node=edge-2 p50 latency ")
    assert " usual at this hour (+" in latency.explanation
    # the tier's own error rate and tail moved too: the error rate names the node, so
    # the node's own error finding is not repeated; the tail names no other node
    whole = {f.metric: f for f in edge.findings if not f.subject}
    assert sorted(whole) == ["error_rate", "latency_p99_ms"]
    assert [part.key for part in whole["error_rate"].attribution] == [{"node": "edge-2"}]
    assert all(part.key == {"node": "edge-2"} for part in whole["latency_p99_ms"].attribution)
    # every change is dated from its series: the node turned at half past
    for finding in edge.findings:
        assert finding.onset is not None
        assert abs(finding.onset - (END - timedelta(minutes=30))) <= timedelta(minutes=4)


def test_an_explicit_baseline_leaves_a_part_its_drift_only(store: Engine) -> None:
    # a named baseline compares with one period; a part's change is judged only against
    # a calendar, so only its drift against a week ago is left
    with store.connect() as conn:
        report = health_report(
            conn,
            end=END,
            window=timedelta(hours=1),
            baseline=timedelta(hours=24),
            by=("tier",),
            fleet=None,
            settings=AnalyticsSettings(),
        )
    assert report.baseline.kind == "preceding"
    parts = [f for s in report.segments for f in s.findings if f.subject]
    assert parts, report.segments
    for finding in parts:
        assert (finding.kind, finding.subject) == ("drift", {"node": "edge-2"})
        assert finding.baseline is not None and finding.baseline.kind == "reference"
        assert " a week ago (+" in finding.explanation
