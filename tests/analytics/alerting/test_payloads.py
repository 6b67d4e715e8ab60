"""Notification bodies: generic JSON, Alertmanager version 4 and Slack, exactly."""

from __future__ import annotations

import json

from analytics.alerting.payloads import Notice, render

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
    firing = json.loads(
        render("alertmanager", FIRING, receiver="ops", external_url="https://tw.example.com")
    )
    annotations = {"summary": FIRING.summary, "metric": "latency_p95_ms"}
    assert firing == {
        "version": "4",
        "groupKey": '{}:{alertname="device_p95", fleet="robots", team="mobile", tier="device"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "ops",
        "groupLabels": {
            "alertname": "device_p95",
            "fleet": "robots",
            "team": "mobile",
            "tier": "device",
        },
        "commonLabels": LABELS,
        "commonAnnotations": annotations,
        "externalURL": "https://tw.example.com",
        "alerts": [
            {
                "status": "firing",
                "labels": LABELS,
                "annotations": annotations,
                "startsAt": "2025-01-02T12:00:00.000Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "https://tw.example.com/api/v1/alerts/00aa11bb22cc33dd",
                "fingerprint": "00aa11bb22cc33dd",
            }
        ],
    }
    resolved = json.loads(render("alertmanager", RESOLVED, receiver="ops", external_url=""))
    assert (resolved["status"], resolved["alerts"][0]["status"]) == ("resolved", "resolved")
    assert resolved["alerts"][0]["endsAt"] == "2025-01-02T13:00:00.000Z"
    # the same alert is the same group
    assert resolved["groupKey"] == firing["groupKey"]


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
