"""Notification bodies: generic JSON, Alertmanager's v2 API and Slack, exactly."""

from __future__ import annotations

import json

from analytics.alerting.payloads import Notice, alertmanager_body, dump, render

LABELS = {
    "alertname": "device_p95",
    "severity": "warning",
    "fleet": "robots",
    "tier": "device",
    "team": "mobile",
}
FIRING = Notice(
    event="firing",
    fingerprint="00aa11bb22cc33dd",
    rule="device_p95",
    severity="warning",
    fleet="robots",
    labels=LABELS,
    summary="p95 latency 180 ms > 120 ms in fleet=robots tier=device over the last 15m (40 attempts)",
    value=180.0,
    started_at=1_735_819_200_000,
    resolved_at=None,
    at=1_735_819_201_000,
    annotations={"metric": "latency_p95_ms"},
)
RESOLVED = Notice(
    **{
        **FIRING.__dict__,
        "event": "resolved",
        "resolved_at": 1_735_822_800_000,
        "at": 1_735_822_800_000,
    }
)


def test_webhook() -> None:
    body = json.loads(
        render("webhook", FIRING, receiver="ops", external_url="https://tw.example.com/")
    )
    assert body == {
        "type": "alert.firing",
        "timestamp": "2025-01-02T12:00:01.000Z",
        "data": {
            "fingerprint": "00aa11bb22cc33dd",
            "rule": "device_p95",
            "status": "firing",
            "severity": "warning",
            "fleet": "robots",
            "summary": FIRING.summary,
            "value": 180.0,
            "labels": LABELS,
            "annotations": {"metric": "latency_p95_ms"},
            "started_at": "2025-01-02T12:00:00.000Z",
            "resolved_at": None,
            "url": "https://tw.example.com/api/v1/alerts/00aa11bb22cc33dd",
        },
    }


def test_alertmanager_firing_and_resolved() -> None:
    ends = FIRING.at + 180_000
    body = json.loads(
        dump(
            alertmanager_body(
                [(FIRING, ends), (RESOLVED, RESOLVED.resolved_at or 0)],
                external_url="https://tw.example.com",
            )
        )
    )
    labels = {
        **LABELS,
        "tierwatch_rule": "device_p95",
        "tierwatch_fingerprint": "00aa11bb22cc33dd",
    }
    annotations = {
        "metric": "latency_p95_ms",
        "summary": FIRING.summary,
        "description": FIRING.summary,
        "tierwatch_alert": "https://tw.example.com/api/v1/alerts/00aa11bb22cc33dd",
    }
    # an array of postable alerts, in one request
    assert body == [
        {
            "labels": labels,
            "annotations": annotations,
            "startsAt": "2025-01-02T12:00:00.000Z",
            # a firing alert's end lies ahead: it is sent again before then
            "endsAt": "2025-01-02T12:03:01.000Z",
            "generatorURL": "https://tw.example.com/api/v1/health?by=fleet,tier&fleet=robots",
        },
        {
            "labels": labels,
            "annotations": annotations,
            "startsAt": "2025-01-02T12:00:00.000Z",
            # a resolved one's is when it resolved
            "endsAt": "2025-01-02T13:00:00.000Z",
            "generatorURL": "https://tw.example.com/api/v1/health?by=fleet,tier&fleet=robots",
        },
    ]


def test_alertmanager_labels_and_annotations_are_strings() -> None:
    notice = Notice(
        **{
            **FIRING.__dict__,
            "labels": {**LABELS, "team.name": "mobile", "9lives": "yes"},
            "annotations": {"value": 180.5},  # type: ignore[dict-item]
        }
    )
    (alert,) = alertmanager_body([(notice, notice.at)], external_url="")
    # names Alertmanager refuses are made into valid ones; values are strings
    assert alert["labels"]["team_name"] == "mobile"
    assert alert["labels"]["_9lives"] == "yes"
    assert all(isinstance(v, str) for v in alert["labels"].values())
    assert alert["annotations"]["value"] == "180.5"
    # without a public URL there is no link
    assert "generatorURL" not in alert and "tierwatch_alert" not in alert["annotations"]


def test_alertmanager_test_notification_ends_ahead() -> None:
    (alert,) = json.loads(render("alertmanager", FIRING, receiver="ops", external_url=""))
    assert alert["endsAt"] == "2025-01-02T12:05:01.000Z"


def test_slack() -> None:
    notice = Notice(**{**FIRING.__dict__, "summary": "p95 latency > 120 ms & rising <now>"})
    body = json.loads(
        render("slack", notice, receiver="chat", external_url="https://tw.example.com")
    )
    assert body == {
        "text": "[FIRING] device_p95 (warning): p95 latency > 120 ms & rising <now>",
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*[FIRING] device_p95 (warning)*\np95 latency &gt; 120 ms &amp; rising &lt;now&gt;\n"
                    "<https://tw.example.com/api/v1/alerts/00aa11bb22cc33dd|alert and history>",
                },
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "severity=warning fleet=robots tier=device team=mobile",
                    }
                ],
            },
        ],
    }
