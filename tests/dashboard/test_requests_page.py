"""The requests page on a fake source: its table and its end-to-end latency chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert

from analytics.config import AnalyticsSettings
from analytics.requests import RequestGroup
from collector.schema import REQUEST_ROLLUPS, SEGMENTS
from dashboard.frames import requests_frame
from dashboard.pages import requests
from dashboard.period import TimeRange
from dashboard.source import AnalyticsSource
from tests.dashboard.fakes import FakeSource, context
from tests.dashboard.test_pages import by_id, text


def group(task: str, tier: str, **values: object) -> RequestGroup:
    fields: dict[str, object] = {
        "key": {"task": task, "tier": tier}, "requests": 0, "answered": 0, "failed": 0,
        "escalated": 0, "served_device": 0, "served_edge": 0, "served_cloud": 0,
        "answered_share": None, "failed_share": None, "cloud_escalation_rate": None,
        "served_device_share": None, "served_edge_share": None, "served_cloud_share": None,
        "attempts_per_request": None, "tiers_per_request": None, "latency_p50_ms": None,
        "latency_p95_ms": None, "latency_p99_ms": None, "latency_mean_ms": None,
        "quality_mean": None, "input_tokens": 0, "output_tokens": 0,
    }  # fmt: skip
    fields.update(values)
    return RequestGroup(**fields)  # type: ignore[arg-type]


TAG = group(
    "photo-tag", "device", requests=1200, answered=1188, answered_share=0.99,
    served_device_share=0.9, served_edge_share=0.0, served_cloud_share=0.09,
    cloud_escalation_rate=0.09, tiers_per_request=1.1, latency_p50_ms=42.0,
    latency_p95_ms=310.4, latency_p99_ms=620.0, quality_mean=0.9134,
)  # fmt: skip
EMPTY = group("doc-scan", "cloud", requests=3, answered=0, answered_share=0.0)


def test_requests_table_text() -> None:
    assert requests_frame([TAG, EMPTY]).to_dict("records") == [
        {
            "task": "photo-tag", "tier": "device", "requests": "1,200", "answered_share": "99.0%",
            "served": "90.0% / 0.0% / 9.0%", "cloud_escalation_rate": "9.0%",
            "tiers_per_request": "1.10", "latency_p50_ms": "42 ms", "latency_p95_ms": "310 ms",
            "quality_mean": "0.913",
        },
        {
            "task": "doc-scan", "tier": "cloud", "requests": "3", "answered_share": "0.0%",
            "served": "- / - / -", "cloud_escalation_rate": "-", "tiers_per_request": "-",
            "latency_p50_ms": "-", "latency_p95_ms": "-", "quality_mean": "-",
        },
    ]  # fmt: skip


def test_requests_page_shows_each_task_and_first_tier_end_to_end() -> None:
    source = FakeSource(request_groups=[TAG, EMPTY])
    body, caption = requests.view(context(source), window="1h", baseline="usual", fleet="shop")
    assert caption.startswith("fleet shop; ")
    table = text(by_id(body, "requests-table"))
    assert "photo-tag" in table and "doc-scan" in table and "310 ms" in table
    graph = by_id(body, "requests-latency")
    # only groups with answered requests have a latency to draw
    assert [t.name for t in graph.figure.data] == ["device"]
    assert list(graph.figure.data[0].x) == [310.4]
    assert graph.figure.layout.title.text.startswith("End-to-end latency per task and first tier")
    assert [name for name, _ in source.calls if name == "requests"] == ["requests"]
    assert source.calls[-1][1]["fleet"] == "shop"


def test_requests_page_without_requests_says_so() -> None:
    body, _ = requests.view(context(FakeSource()), window="1h", baseline="usual", fleet=None)
    assert "No requests started in this window yet" in text(body)


def test_the_source_reads_request_rollups_of_the_fleet_in_the_window(engine: Engine) -> None:
    end = datetime(2025, 1, 2, 12, tzinfo=UTC)
    minute = int(end.timestamp()) - 600
    keys = dict.fromkeys(("model", "model_version", "device_model", "region", "app_version"), "")
    rows = []
    with engine.begin() as conn:
        for i, fleet in enumerate(("shop", "other"), start=1):
            conn.execute(
                insert(SEGMENTS),
                [
                    {
                        "id": i,
                        "fleet": fleet,
                        "tier": "device",
                        "task": "photo-tag",
                        "node": "",
                        **keys,
                    }
                ],
            )
            for at in (minute, minute - 7200):  # in the window, and before it
                row = dict.fromkeys(c.name for c in REQUEST_ROLLUPS.columns)
                row.update(
                    segment_id=i, minute=at, requests=10, answered=9, failed=1, escalated=2,
                    served_device=7, served_edge=0, served_cloud=2, attempts_sum=12,
                    tiers_sum=12, latency_ms_sum=900.0, latency_hist="{}", quality_count=0,
                    quality_sum=0.0, quality_sq_sum=0.0, input_tokens_sum=0,
                    output_tokens_sum=0,
                )  # fmt: skip
                rows.append(row)
        conn.execute(insert(REQUEST_ROLLUPS), rows)
    source = AnalyticsSource(engine, settings=AnalyticsSettings())
    period = TimeRange("1h", "usual", end, end - timedelta(hours=1), end - timedelta(hours=25))
    report = source.requests(period, fleet="shop")
    assert [(g.key, g.requests, g.answered, g.escalated) for g in report.groups] == [
        ({"task": "photo-tag", "tier": "device"}, 10, 9, 2)
    ]
    assert report.groups[0].latency_mean_ms == 100.0
