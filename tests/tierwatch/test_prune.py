"""One pruning pass removes exactly what is past each horizon; firing alerts and pending deliveries stay."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, Table, insert, select

from analytics.alerting.config import AlertsSettings
from analytics.config import AnalyticsSettings
from collector.config import CollectorSettings
from collector.schema import (
    ALERT_EVENTS,
    ALERTS,
    DELIVERIES,
    DEVICES,
    HOURLY_REQUEST_ROLLUPS,
    INGEST_STATS,
    LEASES,
    REQUEST_ROLLUPS,
    REQUESTS,
    SEGMENTS,
    SILENCES,
)
from tierwatch.cli import main
from tierwatch.prune import PRUNER, prune, prune_if_holder, request_rollup_days

DAY_MS = 86_400_000
NOW_MS = 1_740_830_400_000  # 2025-03-01 12:00 UTC
NOW = NOW_MS // 1000


def _alert(fingerprint: str, state: str, *, ended_days: float | None) -> dict[str, Any]:
    ended = None if ended_days is None else NOW_MS - int(ended_days * DAY_MS)
    return {
        "fingerprint": fingerprint,
        "rule": "segment_degraded",
        "fleet": "fleet-a",
        "severity": "warning",
        "state": state,
        "labels": "{}",
        "annotations": "{}",
        "summary": "s",
        "value": None,
        "active_since": NOW_MS - 200 * DAY_MS,
        "started_at": NOW_MS - 200 * DAY_MS,
        "resolved_at": ended if state == "resolved" else None,
        "last_evaluated_at": ended if ended is not None else NOW_MS,
        "notified_state": None,
        "last_notified_at": None,
        "silenced_by": None,
        "evaluated_by": "test",
    }


def _delivery(n: int, fingerprint: str | None, status: str, *, age_days: float) -> dict[str, Any]:
    return {
        "webhook_id": f"msg_{n}",
        "hook": "ops",
        "kind": "alert",
        "event": "firing",
        "fingerprint": fingerprint,
        "fleet": "fleet-a",
        "body": "{}",
        "status": status,
        "attempts": 1,
        "created_at": NOW_MS - int(age_days * DAY_MS),
        "next_attempt_at": NOW_MS,
    }


def _event(fingerprint: str, *, age_days: float) -> dict[str, Any]:
    at = NOW_MS - int(age_days * DAY_MS)
    return {
        "fingerprint": fingerprint,
        "fleet": "fleet-a",
        "at": at,
        "to_state": "resolved",
        "summary": "s",
    }


def _seed(engine: Engine) -> None:
    with engine.begin() as conn:
        segment = conn.execute(
            insert(SEGMENTS)
            .values(
                fleet="fleet-a",
                tier="device",
                task="photo-tag",
                model="",
                model_version="",
                device_model="",
                region="",
                app_version="",
                node="",
            )
            .returning(SEGMENTS.c.id)
        ).scalar_one()
        conn.execute(
            insert(REQUESTS),
            [
                {
                    "fleet": "fleet-a",
                    "trace_id": days.to_bytes(16, "big"),
                    "start_time_unix_nano": (NOW - days * 86_400) * 10**9,
                    "attempts": 1,
                    "tiers": 1,
                    "input_tokens": 0,
                    "output_tokens": 0,
                    "span_ids": b"",
                }
                for days in (31, 29)
            ],
        )
        conn.execute(
            insert(REQUEST_ROLLUPS),
            [
                {
                    "segment_id": segment,
                    "minute": NOW - days * 86_400,
                    "latency_hist": "{}",
                    **dict.fromkeys(
                        (
                            c.name
                            for c in REQUEST_ROLLUPS.c
                            if c.name not in ("segment_id", "minute", "latency_hist")
                        ),
                        0,
                    ),
                }
                # kept as long as minute rollups (35 days), at least as long as requests (30)
                for days in (36, 34)
            ],
        )
        conn.execute(
            insert(HOURLY_REQUEST_ROLLUPS),
            [
                {
                    "segment_id": segment,
                    "hour": (NOW - days * 86_400) // 3600 * 3600,
                    "latency_hist": "{}",
                    **dict.fromkeys(
                        (
                            c.name
                            for c in HOURLY_REQUEST_ROLLUPS.c
                            if c.name not in ("segment_id", "hour", "latency_hist")
                        ),
                        0,
                    ),
                }
                # their hours: as long as the minute rows they add up
                for days in (36, 34)
            ],
        )
        conn.execute(
            insert(INGEST_STATS),
            [
                {
                    "fleet": "fleet-a",
                    "minute": NOW - days * 86_400,
                    "export_requests": 1,
                    "spans_received": 1,
                    "attempts_stored": 1,
                    "duplicates": 0,
                    "rejected": 0,
                    "other_spans": 0,
                    "dropped_attributes": 0,
                }
                for days in (91, 89)
            ],
        )
        conn.execute(
            insert(DEVICES),
            [
                {
                    "fleet": "fleet-a",
                    "device_id": f"d{days}",
                    "model": "tagger",
                    "model_version": "1",
                    "device_model": "pixel",
                    "app_version": "1",
                    "first_seen": NOW - 200 * 86_400,
                    "last_seen": NOW - days * 86_400,
                    "version_since": NOW - 200 * 86_400,
                }
                for days in (91, 89)
            ],
        )
        conn.execute(
            insert(ALERTS),
            [
                _alert("old-resolved", "resolved", ended_days=91),
                _alert("new-resolved", "resolved", ended_days=89),
                _alert("old-inactive", "inactive", ended_days=91),
                # firing for 200 days: never removed
                _alert("firing", "firing", ended_days=None),
                # resolved long ago but a notification is still pending: kept
                _alert("old-pending", "resolved", ended_days=91),
            ],
        )
        conn.execute(
            insert(ALERT_EVENTS),
            [
                _event("old-resolved", age_days=91),
                _event("new-resolved", age_days=89),
                _event("firing", age_days=150),
                _event("old-pending", age_days=91),
            ],
        )
        conn.execute(
            insert(DELIVERIES),
            [
                _delivery(1, "old-resolved", "delivered", age_days=91),
                _delivery(2, "old-resolved", "dead", age_days=91),
                _delivery(3, "new-resolved", "delivered", age_days=89),
                _delivery(4, "firing", "delivered", age_days=150),
                _delivery(5, "firing", "delivered", age_days=10),
                _delivery(6, "firing", "pending", age_days=150),
                _delivery(7, "old-pending", "pending", age_days=91),
                _delivery(8, None, "failed", age_days=91),
            ],
        )
        conn.execute(
            insert(SILENCES),
            [
                {
                    "fleet": None,
                    "matchers": "[]",
                    "starts_at": 0,
                    "ends_at": NOW_MS - days * DAY_MS,
                    "created_by": "ops",
                    "comment": str(days),
                    "created_at": 0,
                }
                for days in (31, 29, -1)
            ],
        )
        conn.execute(
            insert(LEASES),
            [
                {"name": "old", "holder": "h", "expires_at": NOW_MS - 8 * DAY_MS, "acquired_at": 0},
                {
                    "name": "recent",
                    "holder": "h",
                    "expires_at": NOW_MS - 6 * DAY_MS,
                    "acquired_at": 0,
                },
            ],
        )


def _column(engine: Engine, table: Table, column: str) -> list[Any]:
    with engine.connect() as conn:
        return sorted(conn.execute(select(table.c[column])).scalars())


def _prune(engine: Engine, **alerts: int) -> dict[str, int]:
    pruned = prune(
        engine,
        now_ms=NOW_MS,
        collector=CollectorSettings(),
        analytics=AnalyticsSettings(),
        alerts=AlertsSettings(**alerts),
    )
    return {p.table: p.rows for p in pruned}


def test_one_pass_removes_exactly_what_is_past_each_horizon(engine: Engine) -> None:
    _seed(engine)
    removed = _prune(engine)
    assert removed == {
        "attempts": 0,
        "requests": 1,
        "request_rollups": 1,
        "hourly_request_rollups": 1,
        "rollups": 0,
        "hourly_rollups": 0,
        "advice_rollups": 0,
        "ingest_stats": 1,
        "devices": 1,
        "alerts": 2,
        "alert_events": 1,
        "deliveries": 4,  # 1, 2 with their alert; 4 and 8: finished and 91+ days old
        "silences": 1,
        "leases": 1,
    }
    assert _column(engine, INGEST_STATS, "minute") == [NOW - 89 * 86_400]
    assert _column(engine, REQUESTS, "trace_id") == [(29).to_bytes(16, "big")]
    assert _column(engine, REQUEST_ROLLUPS, "minute") == [NOW - 34 * 86_400]
    assert _column(engine, HOURLY_REQUEST_ROLLUPS, "hour") == [(NOW - 34 * 86_400) // 3600 * 3600]
    assert _column(engine, DEVICES, "device_id") == ["d89"]
    assert _column(engine, ALERTS, "fingerprint") == [
        "firing",
        "new-resolved",
        "old-pending",
    ]
    assert _column(engine, ALERT_EVENTS, "fingerprint") == [
        "firing",
        "new-resolved",
        "old-pending",
    ]
    assert _column(engine, DELIVERIES, "webhook_id") == ["msg_3", "msg_5", "msg_6", "msg_7"]
    assert _column(engine, SILENCES, "comment") == ["-1", "29"]
    assert _column(engine, LEASES, "name") == ["recent"]
    # a second pass finds nothing more
    assert set(_prune(engine).values()) == {0}


def test_zero_keeps_alerting_history_forever(engine: Engine) -> None:
    _seed(engine)
    removed = _prune(
        engine, resolved_retention_days=0, silence_retention_days=0, lease_retention_days=0
    )
    assert [removed[t] for t in ("alerts", "alert_events", "deliveries", "silences", "leases")] == [
        0,
        0,
        0,
        0,
        0,
    ]


def test_only_the_lease_holder_prunes(engine: Engine) -> None:
    _seed(engine)
    sections: dict[str, Any] = {
        "collector": CollectorSettings(),
        "analytics": AnalyticsSettings(),
        "alerts": AlertsSettings(),
    }
    first = prune_if_holder(engine, holder="a", now_ms=NOW_MS, ttl_ms=60_000, **sections)
    second = prune_if_holder(engine, holder="b", now_ms=NOW_MS + 1, ttl_ms=60_000, **sections)
    assert first is not None and second is None
    assert _column(engine, LEASES, "name") == [PRUNER, "recent"]


def test_db_prune_prints_one_line_per_table(db_url: str, engine: Engine) -> None:
    result = CliRunner().invoke(main, ["db", "prune", "--db", db_url])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "attempts: removed 0 rows older than 30 days",
        "requests: removed 0 rows older than 30 days",
        "request_rollups: removed 0 rows older than 35 days",
        "hourly_request_rollups: removed 0 rows older than 35 days",
        "rollups: removed 0 rows older than 35 days",
        "hourly_rollups: removed 0 rows older than 400 days",
        "advice_rollups: removed 0 rows older than 400 days",
        "ingest_stats: removed 0 rows older than 90 days",
        "devices: removed 0 rows older than 90 days",
        "alerts: removed 0 rows older than 90 days",
        "alert_events: removed 0 rows older than 90 days",
        "deliveries: removed 0 rows older than 90 days",
        "silences: removed 0 rows older than 30 days",
        "leases: removed 0 rows older than 7 days",
    ]


@pytest.mark.parametrize(
    ("attempts", "minutes", "hourly", "expected"),
    [
        (30, 35, 400, 35),  # the defaults: as long as minute rollups
        (60, 35, 400, 60),  # requests kept longer: their minutes too
        (30, 0, 400, 400),  # minute rollups kept until the hourly horizon
        (0, 35, 400, 0),  # requests kept forever: their minutes too
        (30, 0, 0, 0),  # rollups kept forever
    ],
)
def test_request_rollups_are_kept_like_minute_rollups_and_at_least_like_requests(
    attempts: int, minutes: int, hourly: int, expected: int
) -> None:
    assert (
        request_rollup_days(
            CollectorSettings(retention_days=attempts),
            AnalyticsSettings(
                minute_rollup_retention_days=minutes, hourly_rollup_retention_days=hourly
            ),
        )
        == expected
    )
