"""Notification bodies, one format per hook kind (pure): generic JSON, Alertmanager, Slack.

- ``webhook``: ``{"type": "alert.firing", "timestamp": ..., "data": {...}}``, the
  envelope Standard Webhooks recommends, ``data`` holding the whole alert;
- ``alertmanager``: the Alertmanager webhook payload, version 4, one alert per
  notification, so receivers written for Alertmanager work unchanged;
- ``slack``: an incoming-webhook message with ``text`` and ``blocks``.

A body is rendered once, when the notification is written, and sent byte for
byte on every attempt.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from analytics.alerting.times import iso

#: What Alertmanager sends as ``endsAt`` of an alert that has not ended.
ZERO_TIME = "0001-01-01T00:00:00Z"


@dataclass(frozen=True)
class Notice:
    """What one notification says: an alert's state at one moment (times in Unix ms)."""

    event: str
    fingerprint: str
    rule: str
    severity: str
    fleet: str | None
    labels: dict[str, str]
    summary: str
    value: float | None
    started_at: int | None
    resolved_at: int | None
    at: int
    annotations: dict[str, str] = field(default_factory=dict)


def alert_url(external_url: str, fingerprint: str) -> str:
    """Where operators read an alert and its history (the read API)."""
    base = external_url.rstrip("/")
    return f"{base}/api/v1/alerts/{quote(fingerprint)}" if base else ""


def render(kind: str, notice: Notice, *, receiver: str, external_url: str) -> str:
    """The body of ``notice`` for a hook of ``kind`` named ``receiver``."""
    if kind == "webhook":
        body = webhook_body(notice, external_url=external_url)
    elif kind == "alertmanager":
        body = alertmanager_body(notice, receiver=receiver, external_url=external_url)
    elif kind == "slack":
        body = slack_body(notice, external_url=external_url)
    else:
        raise ValueError(f"unknown hook kind {kind!r}")
    return json.dumps(body, separators=(",", ":"), sort_keys=False)


def webhook_body(notice: Notice, *, external_url: str) -> dict[str, Any]:
    """The generic JSON body."""
    return {
        "type": f"alert.{notice.event}",
        "timestamp": iso(notice.at),
        "data": {
            "fingerprint": notice.fingerprint,
            "rule": notice.rule,
            "status": notice.event,
            "severity": notice.severity,
            "fleet": notice.fleet,
            "summary": notice.summary,
            "value": notice.value,
            "labels": notice.labels,
            "annotations": notice.annotations,
            "started_at": iso(notice.started_at),
            "resolved_at": iso(notice.resolved_at),
            "url": alert_url(external_url, notice.fingerprint),
        },
    }


def alertmanager_body(notice: Notice, *, receiver: str, external_url: str) -> dict[str, Any]:
    """The Alertmanager webhook payload (version 4) holding this one alert."""
    status = "resolved" if notice.event == "resolved" else "firing"
    # One alert per notification: its group is the alert itself (its labels but severity).
    group = {k: notice.labels[k] for k in sorted(notice.labels) if k != "severity"}
    annotations = {"summary": notice.summary, **notice.annotations}
    alert = {
        "status": status,
        "labels": notice.labels,
        "annotations": annotations,
        "startsAt": iso(notice.started_at if notice.started_at is not None else notice.at),
        "endsAt": iso(notice.resolved_at) if status == "resolved" else ZERO_TIME,
        "generatorURL": alert_url(external_url, notice.fingerprint),
        "fingerprint": notice.fingerprint,
    }
    return {
        "version": "4",
        "groupKey": "{}:{" + ", ".join(f"{k}={json.dumps(v)}" for k, v in group.items()) + "}",
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": group,
        "commonLabels": notice.labels,
        "commonAnnotations": annotations,
        "externalURL": external_url,
        "alerts": [alert],
    }


def slack_body(notice: Notice, *, external_url: str) -> dict[str, Any]:
    """A Slack incoming-webhook message: a plain ``text`` fallback and ``blocks``."""
    marker = {"firing": "FIRING", "resolved": "RESOLVED", "test": "TEST"}[notice.event]
    headline = f"[{marker}] {notice.rule} ({notice.severity})"
    text = f"{headline}: {notice.summary}"
    url = alert_url(external_url, notice.fingerprint)
    details = f"*{_slack_escape(headline)}*\n{_slack_escape(notice.summary)}"
    if url:
        details += f"\n<{url}|alert and history>"
    context = " ".join(f"{k}={v}" for k, v in notice.labels.items() if k != "alertname")
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": details}},
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": _slack_escape(context) or " "}],
            },
        ],
    }


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn treats these three as control characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
