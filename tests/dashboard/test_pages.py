"""Callbacks: each page's view on a fake source, with a fixed clock and a known principal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
from dash import dcc, html, no_update

from analytics.advice import Advice, Goals, advise
from analytics.config import CostSettings, Price
from dashboard import shell
from dashboard.pages import advice, alerts, guarded, overview, segments, tiers, versions
from dashboard.period import time_range
from tests.analytics.advice_buckets import FLEET, bucket_sums
from tests.dashboard import fakes
from tests.dashboard.fakes import END, NOW, FakeSource, context


def walk(component: Any) -> Iterator[Any]:
    """Every component in a tree (lists and tuples of children included)."""
    if isinstance(component, list | tuple):
        for child in component:
            yield from walk(child)
        return
    if component is None or isinstance(component, str | int | float):
        return
    yield component
    yield from walk(getattr(component, "children", None))


def by_id(tree: Any, ident: str) -> Any:
    found = [c for c in walk(tree) if getattr(c, "id", None) == ident]
    assert len(found) == 1, f"{ident}: {len(found)} found"
    return found[0]


def text(tree: Any) -> str:
    """All text in a tree, joined by single spaces."""
    parts: list[str] = []

    def collect(node: Any) -> None:
        if isinstance(node, str):
            parts.append(node)
        elif isinstance(node, list | tuple):
            for child in node:
                collect(child)
        elif node is not None and not isinstance(node, int | float):
            collect(getattr(node, "children", None))

    collect(tree)
    return " ".join(p.strip() for p in parts if p.strip())


def health_calls(source: FakeSource) -> list[dict[str, Any]]:
    return [kwargs for name, kwargs in source.calls if name == "health"]


# --- overview ---------------------------------------------------------------


def test_overview_cards_escalation_and_firing_alerts() -> None:
    source = FakeSource(
        health_report=fakes.report(
            [fakes.device_segment(), fakes.edge_segment(), fakes.cloud_segment()]
        ),
        # split by task too, nothing else is wrong
        health_by={("tier", "task"): fakes.report([], by=("tier", "task"))},
        alert_rows=fakes.alerts_frame(
            [
                {
                    "fingerprint": "f1",
                    "rule": "segment_degraded",
                    "severity": "critical",
                    "state": "firing",
                    "summary": "tier=device is degraded",
                    "started_at": pd.Timestamp("2025-01-02T11:40:00Z"),
                },
                {
                    "fingerprint": "f2",
                    "rule": "old",
                    "severity": "info",
                    "state": "resolved",
                    "summary": "gone",
                    "started_at": pd.NaT,
                },
            ]
        ),
    )
    body, caption = overview.view(context(source), window="1h", baseline="24h", fleet=None)
    assert (
        caption
        == "every fleet; window 1h (11:00 to 12:00 UTC) against the 24h before; updated 12:00:30 UTC"
    )
    call, by_task = health_calls(source)
    assert call["by"] == ["tier"] and call["fleet"] is None
    assert by_task["by"] == ["tier", "task"] and by_task["period"] == call["period"]
    assert (call["period"].end, call["period"].window_start) == (END, fakes.WINDOW_START)
    device = by_id(body, "tier-card-device")
    assert device.className == "card tier-card status-degraded"
    assert text(device).startswith(
        "Device tier ✕ degraded ✕ error rate 7.5% vs 3.0% baseline (+150%), p<0.001; "
        "explained by model_version=2.2.0 (95%) ▲ p99 latency 200 ms vs 80 ms baseline"
    )
    assert "metric last 1h 24h before change attempts / hour 480 80 +500%" in text(device)
    assert text(by_id(body, "tier-card-edge")).startswith("Edge tier ✓ ok No findings")
    assert text(by_id(body, "fleet-escalation")).startswith(
        "cloud escalation rate 3.8% baseline 1.0% (+260%)"
    )
    alerts_card = by_id(body, "overview-alerts")
    assert text(alerts_card) == (
        "Firing alerts ✕ critical segment_degraded : tier=device is degraded "
        "since 2025-01-02 11:40 UTC"
    )
    assert ("alerts", {"fleet": None, "states": ["firing"]}) in source.calls


def test_overview_of_a_fleet_token_reads_its_fleet_whatever_is_chosen() -> None:
    source = FakeSource(health_report=fakes.report([fakes.device_segment()]))
    _, caption = overview.view(
        context(source, fleet="shop"), window="1h", baseline="24h", fleet="other"
    )
    assert health_calls(source)[0]["fleet"] == "shop"
    assert caption.startswith("fleet shop; ")


def test_overview_empty_store_says_how_to_send_traces() -> None:
    source = FakeSource(fleet_names=[])
    body, caption = overview.view(
        context(source, dev=False), window=None, baseline=None, fleet=None
    )
    assert body.id == "empty-state" and caption == ""
    words = text(body)
    assert "tierwatch token create --fleet my-fleet --role ingest" in words
    assert "OTEL_EXPORTER_OTLP_ENDPOINT=http://tierwatch.example:4318" in words
    assert (
        "tierwatch simulate --endpoint http://tierwatch.example:4318 --backfill 24h "
        "--token <ingest token>" in words
    )
    assert health_calls(source) == []


def test_overview_alerts_that_cannot_be_read_leave_the_cards() -> None:
    class Broken(FakeSource):
        def alerts(self, **_: Any) -> pd.DataFrame:
            raise RuntimeError("no alerts table")

    source = Broken(health_report=fakes.report([fakes.device_segment()]))
    body, _ = overview.view(context(source), window="1h", baseline="24h", fleet=None)
    assert by_id(body, "tier-card-device")
    assert text(by_id(body, "overview-alerts")) == (
        "Firing alerts Alerts could not be read: no alerts table"
    )


def test_guarded_view_turns_a_failure_into_a_notice() -> None:
    @guarded(3)
    def failing() -> tuple[Any, Any, Any]:
        raise ConnectionError("database is down")

    notice, second, third = failing()
    assert notice.className == "notice notice-error"
    assert notice.children == (
        "Could not read the data for this view (ConnectionError: database is down). "
        "It is tried again at the next refresh."
    )
    assert (second, third) == (no_update, no_update)


# --- segments ---------------------------------------------------------------


def test_segments_grid_for_the_grouping_chosen() -> None:
    source = FakeSource(
        health_report=fakes.report(
            [fakes.device_segment(device_model="galaxy-a14"), fakes.edge_segment()],
            by=("tier", "device_model"),
        )
    )
    notice, rows, columns, caption = segments.view_grid(
        context(source), window="1h", baseline="24h", fleet=None, by=["tier", "device_model"]
    )
    assert health_calls(source)[0]["by"] == ["tier", "device_model"]
    assert notice.children == "2 segments: 1 ok, 1 degraded; 12 tests, false-discovery rate 0.05"
    assert [r["id"] for r in rows] == ["tier=device|device_model=galaxy-a14", "tier=edge"]
    fields = [c["field"] for c in columns]
    assert fields == [
        "status_rank",
        "status",
        "tier",
        "device_model",
        "attempts",
        "error_rate",
        "fallback_rate",
        "latency_p95_ms",
        "quality_mean",
        "privacy_violations",
        "findings",
        "finding",
    ]  # no escalation rate: a segment of one tier cannot see both ends of a request
    assert [c["headerName"] for c in columns[4:10]] == [
        "attempts",
        "error rate",
        "fallback rate",
        "p95 latency",
        "mean quality",
        "privacy violations",
    ]
    assert (
        caption
        == "every fleet; window 1h (11:00 to 12:00 UTC) against the 24h before; updated 12:00:30 UTC"
    )


@pytest.mark.parametrize(
    ("chosen", "expected"),
    [
        (["task", "nonsense", "task"], ["task"]),  # unknown and repeated dimensions dropped
        ("tier, model_version", ["tier", "model_version"]),  # from the URL
        (None, ["fleet", "tier", "task"]),  # the settings' default
        ([], []),  # everything together
    ],
)
def test_grouping(chosen: Any, expected: list[str]) -> None:
    assert segments.grouping(chosen, ["fleet", "tier", "task"]) == expected


def test_segments_layout_takes_the_grouping_from_the_url() -> None:
    page = segments.layout({"by": "tier,device_model"}, context(FakeSource()))
    assert by_id(page, "segments-by").value == ["tier", "device_model"]
    assert [c["field"] for c in by_id(page, "segments-grid").columnDefs][2:4] == [
        "tier",
        "device_model",
    ]


def test_segment_detail_opens_on_its_first_finding() -> None:
    row = segments_row()
    key = "device_model=galaxy-a14,fleet=shop,tier=device"
    source = FakeSource(
        series_frames={key: fakes.series({"error_rate": [0.02, 0.03, 0.04, 0.03, 0.2]}, step=900)}
    )
    title, figure, findings, options, metric = segments.view_detail(
        context(source, fleet="shop"),
        row=row,
        metric=None,
        window="1h",
        baseline="24h",
        fleet=None,
    )
    assert title == "tier=device, device_model=galaxy-a14"
    assert metric == "error_rate"
    (call,) = [k for name, k in source.calls if name == "series"]
    # the token's fleet is added to the key; baseline and window are drawn at 15 minutes
    assert call == {
        "key": {"tier": "device", "device_model": "galaxy-a14", "fleet": "shop"},
        "start": fakes.BASELINE_START,
        "end": END,
        "step": 900,
    }
    assert [s.y0 for s in figure.layout.shapes][1] == 0.03  # the baseline value
    assert "cloud_escalation_rate" not in [o["value"] for o in options]
    assert text(findings).startswith("✕ error rate 7.5% vs 3.0% baseline")


def test_segment_detail_keeps_the_metric_chosen() -> None:
    _, figure, _, _, metric = segments.view_detail(
        context(FakeSource()),
        row=segments_row(),
        metric="attempts",
        window="1h",
        baseline="24h",
        fleet=None,
    )
    assert metric == "attempts"
    assert figure.layout.title.text == "attempts"


def segments_row() -> dict[str, Any]:
    report = fakes.report(
        [fakes.device_segment(device_model="galaxy-a14")], by=("tier", "device_model")
    )
    from dashboard.frames import segment_rows

    return segment_rows(report)[0]


# --- tiers ------------------------------------------------------------------


def test_tiers_page_compares_local_with_cloud_per_task() -> None:
    reasons = {
        f"fallback_rate_{r}": [0.0, 0.0]
        for r in (
            "low_confidence",
            "error",
            "timeout",
            "offline",
            "thermal",
            "battery",
            "oom",
            "other",
        )
    }
    source = FakeSource(
        comparisons=[fakes.comparison("photo-tag"), fakes.comparison("speech")],
        series_frames={
            "tier=device": fakes.series({**reasons, "fallback_rate_error": [0.01, 0.02]}),
            "task=photo-tag": fakes.series({"cloud_escalation_rate": [0.03, 0.05]}),
            "task=speech": fakes.series({"cloud_escalation_rate": [0.01, 0.01]}),
        },
    )
    body, options, _caption = tiers.view(
        context(source), window="1h", baseline="24h", fleet=None, task=None
    )
    assert options == [
        {"value": "photo-tag", "label": "photo-tag"},
        {"value": "speech", "label": "speech"},
    ]
    (call,) = [k for n, k in source.calls if n == "tiers"]
    assert (call["start"], call["end"]) == (fakes.WINDOW_START, END)
    keys = [k["key"] for n, k in source.calls if n == "series"]
    assert keys == [
        {"tier": "device"},
        {"tier": "edge"},
        {"tier": "cloud"},
        {"task": "photo-tag"},
        {"task": "speech"},
    ]
    latency = by_id(body, "tiers-latency").figure
    assert [list(t.y[0]) for t in latency.data] == [
        ["photo-tag", "speech"],
        ["photo-tag", "speech"],
    ]
    fallbacks = by_id(body, "tiers-fallbacks").figure
    assert [(t.name, t.stackgroup) for t in fallbacks.data] == [("error", "device")]
    escalation = by_id(body, "tiers-escalation").figure
    assert [t.name for t in escalation.data] == ["photo-tag", "speech"]
    assert "p95 latency 158 ms 235 ms -77 ms [-112 ms, -55 ms] p<0.001" in text(
        by_id(body, "tiers-differences")
    )


def test_tiers_page_for_one_task_and_fleet() -> None:
    source = FakeSource(comparisons=[fakes.comparison("photo-tag"), fakes.comparison("speech")])
    body, options, _ = tiers.view(
        context(source, fleet="shop"), window="1h", baseline="24h", fleet=None, task="speech"
    )
    assert len(options) == 2  # the filter still offers every task
    keys = [k["key"] for n, k in source.calls if n == "series"]
    assert keys == [
        {"fleet": "shop", "task": "speech", "tier": "device"},
        {"fleet": "shop", "task": "speech", "tier": "edge"},
        {"fleet": "shop", "task": "speech", "tier": "cloud"},
        {"fleet": "shop", "task": "speech"},
    ]
    latency = by_id(body, "tiers-latency").figure
    assert [list(t.y[0]) for t in latency.data] == [["speech"], ["speech"]]


def test_tiers_page_without_anything_to_compare() -> None:
    body, options, _ = tiers.view(
        context(FakeSource()), window="1h", baseline="24h", fleet=None, task=None
    )
    assert options == []
    assert text(body[0]) == (
        "No task ran on both a local tier and the cloud in this window, "
        "so there is nothing to compare yet."
    )
    escalation = by_id(body, "tiers-escalation").figure
    assert escalation.data == ()  # one empty line for every task together


# --- versions ---------------------------------------------------------------


def test_versions_page_shows_each_version_rollout_skew_and_canary() -> None:
    source = FakeSource(drifts=[fakes.drift()])
    body, _caption = versions.view(context(source), window="1h", baseline="24h", fleet=None)
    (section,) = body
    assert text(by_id(section, "newest-shop-tagger")) == "newest version 2.2.0"
    assert text(by_id(section, "skew-shop-tagger")) == "skew (not on newest) 75.0%"
    assert text(by_id(section, "stuck-shop-tagger")) == "stuck devices 1"
    assert text(by_id(section, "versions-table-shop-tagger")) == (
        "version active devices share of devices attempts in window first seen role "
        "2.2.0 5 25.0% 120 2025-01-02 11:01 UTC newest "
        "2.1.0 15 75.0% 867 2025-01-01 00:00 UTC previous dominant"
    )
    rollout = by_id(section, "rollout-shop-tagger").figure
    assert [t.name for t in rollout.data] == ["2.2.0", "2.1.0"]
    canary = [c for c in walk(section) if getattr(c, "className", None) == "canary"]
    assert [text(c) for c in canary] == [
        "2.2.0 against 2.1.0 ✕ degraded ✕ error rate 22.5% vs 2.5% on model_version 2.1.0 "
        "(+800%), p<0.001"
    ]
    grid = by_id(section, "stuck-grid-shop-tagger")
    assert [r["device_id"] for r in grid.rowData] == ["galaxy-a14-09"]
    assert ("version_series", {"fleet": "shop", "model": "tagger", "step": 900}) in source.calls


def test_versions_page_without_versions() -> None:
    body, _ = versions.view(context(FakeSource()), window="1h", baseline="24h", fleet=None)
    assert text(body).startswith("No model versions seen yet")


# --- alerts -----------------------------------------------------------------


def test_alerts_page_splits_current_from_past_and_lists_deliveries_and_silences() -> None:
    old = pd.Timestamp("2024-12-01T00:00:00Z")
    recent = pd.Timestamp("2025-01-02T11:00:00Z")
    source = FakeSource(
        alert_rows=fakes.alerts_frame(
            [
                {
                    "fingerprint": "a",
                    "rule": "segment_degraded",
                    "severity": "critical",
                    "state": "firing",
                    "labels": {"tier": "device"},
                    "summary": "s",
                    "started_at": recent,
                    "last_evaluated_at": recent,
                },
                {
                    "fingerprint": "b",
                    "rule": "r",
                    "severity": "warning",
                    "state": "resolved",
                    "labels": {},
                    "summary": "s",
                    "started_at": recent,
                    "resolved_at": recent,
                    "last_evaluated_at": recent,
                },
                {
                    "fingerprint": "c",
                    "rule": "r",
                    "severity": "warning",
                    "state": "resolved",
                    "labels": {},
                    "summary": "s",
                    "last_evaluated_at": old,
                },
            ]
        ),
        delivery_rows=pd.DataFrame(
            {
                "id": [7, 6],
                "status": ["dead", "delivered"],
                "hook": ["ops", "ops"],
                "event": ["firing", "firing"],
                "fingerprint": ["a", "a"],
                "attempts": [9, 1],
                "last_status_code": pd.array([500, 200], dtype="Int64"),
                "last_error": ["HTTP 500", None],
                "created_at": [recent, old],
                "next_attempt_at": [pd.NaT, pd.NaT],
                "delivered_at": [pd.NaT, old],
            }
        ),
        silence_rows=pd.DataFrame(
            {
                "id": [3, 2],
                "active": [True, False],
                "matchers": [[{"name": "tier", "op": "=", "value": "device"}], []],
                "starts_at": [recent, old],
                "ends_at": [recent, old],
                "created_by": ["ann", "bo"],
                "comment": ["deploying", "old"],
                "fleet": [None, "shop"],
            }
        ),
    )
    body, caption = alerts.view(context(source), window="1h", baseline="24h", fleet=None)
    assert caption == "every fleet; since 2025-01-01 11:00 UTC; updated 12:00:30 UTC"
    current = by_id(body, "alerts-current")
    assert [(r["id"], r["state"], r["labels"]) for r in current.rowData] == [
        ("a", "firing", "tier=device")
    ]
    assert [r["id"] for r in by_id(body, "alerts-resolved").rowData] == ["b"]
    deliveries = by_id(body, "alerts-deliveries").rowData
    assert deliveries == [
        {
            "status": "dead",
            "hook": "ops",
            "event": "firing",
            "fingerprint": "a",
            "attempts": 9,
            "last_status_code": 500,
            "last_error": "HTTP 500",
            "created_at": "2025-01-02 11:00 UTC",
            "next_attempt_at": None,
            "delivered_at": None,
            "id": "7",
        }
    ]
    silences = by_id(body, "alerts-silences").rowData
    assert [(r["id"], r["matchers"], r["active"]) for r in silences] == [("3", "tier=device", True)]
    assert [text(s.children[0]) for s in body] == [
        "Firing and pending (1)",
        "Resolved (1)",
        "Deliveries (1)",
        "Silences (1)",
    ]


def test_alerts_page_with_nothing() -> None:
    body, _ = alerts.view(context(FakeSource()), window="1h", baseline="24h", fleet="x")
    assert next(text(s) for s in body) == "Firing and pending (0) None."


def test_matcher_text() -> None:
    assert (
        alerts.matcher_text(
            [
                {"name": "tier", "op": "=", "value": "device"},
                {"name": "task", "op": "=~", "value": "photo.*"},
            ]
        )
        == "tier=device, task=~photo.*"
    )
    assert alerts.matcher_text(None) == ""


# --- shell and time range ---------------------------------------------------


@pytest.mark.parametrize(
    ("pathname", "key"),
    [
        ("/dashboard/", ""),
        ("/dashboard", ""),
        ("/dashboard/segments", "segments"),
        ("/dashboard/versions/", "versions"),
        (None, ""),
    ],
)
def test_route(pathname: str | None, key: str) -> None:
    assert shell.route(pathname, "/dashboard/") == key


def test_unknown_page_links_to_the_overview() -> None:
    page = shell.page(
        context(FakeSource()), pathname="/dashboard/nope", search="", prefix="/dashboard/"
    )
    assert page.id == "not-found"
    assert isinstance(page.children[2], dcc.Link) and page.children[2].href == "/dashboard/"


def test_fleet_control_locked_to_the_tokens_fleet() -> None:
    source = FakeSource(fleet_names=["lab", "shop"])
    assert shell.fleet_choice(context(source, fleet="shop")) == (
        [{"value": "shop", "label": "shop"}],
        True,
        "shop",
    )
    assert shell.fleet_choice(context(source)) == (
        [{"value": "lab", "label": "lab"}, {"value": "shop", "label": "shop"}],
        False,
        no_update,
    )


def test_who_is_signed_in() -> None:
    assert shell.who(context(FakeSource()), prefix="/dashboard/") == [
        "development mode: no sign-in"
    ]
    line = shell.who(context(FakeSource(), fleet="shop", dev=False), prefix="/dashboard/")
    assert line[0] == "shop · read token "
    assert isinstance(line[1], html.A) and line[1].href == "/dashboard/logout"


@pytest.mark.parametrize(
    ("window", "baseline", "expected"),
    [
        ("1h", "24h", ("1h", "24h", "2025-01-02 11:00", "2025-01-01 11:00")),
        ("15m", "1h", ("15m", "1h", "2025-01-02 11:45", "2025-01-02 10:45")),
        # values the control does not offer fall back to the default window and the usual baseline,
        # whose charts start the default baseline's length before the window
        ("1s", "90d", ("1h", "usual", "2025-01-02 11:00", "2025-01-01 11:00")),
        (None, None, ("1h", "usual", "2025-01-02 11:00", "2025-01-01 11:00")),
    ],
)
def test_time_range(window: str | None, baseline: str | None, expected: tuple) -> None:
    from analytics.config import AnalyticsSettings

    period = time_range(window, baseline, now=NOW, settings=AnalyticsSettings())
    assert period.end == END  # cut to the minute
    assert (
        period.window,
        period.baseline,
        f"{period.window_start:%Y-%m-%d %H:%M}",
        f"{period.baseline_start:%Y-%m-%d %H:%M}",
    ) == expected


def test_a_canary_segment_is_drawn_against_the_version_it_was_compared_with() -> None:
    from dataclasses import replace

    from dashboard.frames import segment_rows

    canary = replace(
        fakes.device_segment(model_version="2.2.0"),
        findings=[fakes.drift().canaries[0].findings[0]],
    )
    (row,) = segment_rows(fakes.report([canary], by=("tier", "model_version")))
    assert segments.canary_reference(row, "error_rate") == "2.1.0"
    assert segments.canary_reference(row, "quality_mean") is None
    source = FakeSource(
        series_frames={
            "model_version=2.2.0,tier=device": fakes.series({"error_rate": [0.2, 0.25]}),
            "model_version=2.1.0,tier=device": fakes.series(
                {"error_rate": [0.02, 0.03, 0.02, 0.04]}
            ),
        }
    )
    _, figure, _, _, metric = segments.view_detail(
        context(source), row=row, metric=None, window="1h", baseline="24h", fleet=None
    )
    assert metric == "error_rate"
    assert [k["key"]["model_version"] for n, k in source.calls if n == "series"] == [
        "2.2.0",
        "2.1.0",
    ]
    reference, mine = figure.data
    assert (reference.name, list(reference.y)) == ("model_version 2.1.0", [0.02, 0.03, 0.02, 0.04])
    assert mine.name == "this segment"
    band, value, _window = figure.layout.shapes
    assert (round(band.y0, 6), round(band.y1, 6)) == (0.02, 0.037)  # 2.1.0's usual range
    assert value.y0 == 0.025  # 2.1.0's value in the window
    assert [a.text for a in figure.layout.annotations][:2] == [
        "usual on model_version 2.1.0 (10 to 90%)",
        "model_version 2.1.0",
    ]


# --- advice -----------------------------------------------------------------


def _advice_of(goals: Goals) -> Advice:
    return advise(
        bucket_sums(**FLEET), task="photo-tag", fleet=None, tier="device", goals=goals,
        prices=CostSettings([Price(tier="cloud", per_call=1.0)]),
    )  # fmt: skip


def test_advice_page_draws_the_curve_and_says_why() -> None:
    source = FakeSource(advices={"photo-tag": _advice_of, "voice": _advice_of})
    body, options, chosen, where = advice.view(context(source), fleet=None, task=None, floor=0.6)
    assert [o["value"] for o in options] == ["photo-tag", "voice"]
    assert chosen == "photo-tag"
    assert where == "every fleet; the last 7 days; updated 12:00:30 UTC"
    (call,) = [k for n, k in source.calls if n == "advice_tasks"]
    assert (call["start"], call["end"]) == (NOW - timedelta(days=7), NOW)
    (asked,) = [k for n, k in source.calls if n == "advice"]
    assert asked == {"task": "photo-tag", "fleet": None, "goals": Goals(quality_floor=0.6)}
    curve = by_id(body, "advice-curve").figure
    assert [t.name for t in curve.data] == ["threshold", "current (0.21)", "recommended (0.20)"]
    assert text(by_id(body, "advice-reason")) == (
        "Recommended: threshold 0.20 is the cheapest that meets quality floor 0.6: 0 per 1,000 "
        "requests against 250 at the current 0.21, predicted quality 0.750."
    )
    points = text(by_id(body, "advice-points"))
    assert "current 0.21 75.0% 25.0% 0.900 [" in points
    assert "recommended 0.20 100.0% 0.0% 0.750 [" in points
    assert "no price for tier device" in text(by_id(body, "advice-notes"))


def test_advice_page_without_local_attempts() -> None:
    body, options, chosen, _ = advice.view(context(FakeSource()), fleet=None, task=None, floor=None)
    assert (options, chosen) == ([], None)
    assert "No local attempt with a confidence was folded in the last 7 days" in text(body)
