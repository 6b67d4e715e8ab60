"""Notification bodies, one format per hook kind (pure): generic JSON, Alertmanager, Slack.

- ``webhook``: ``{"type": "alert.firing", "timestamp": ..., "data": {...}}``, the
  envelope Standard Webhooks recommends, ``data`` holding the whole alert;
- ``alertmanager``: what Alertmanager's ``POST /api/v2/alerts`` takes, a JSON
  array of postable alerts (string labels and annotations, ``startsAt``,
  ``endsAt``, ``generatorURL``), several alerts per request
  (:mod:`analytics.alerting.batches` decides which);
- ``slack``: an incoming-webhook message with ``text`` and ``blocks``.

A body is rendered once, when the notification is written, and sent byte for
byte on every attempt.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from analytics.alerting.times import iso
from collector.schema import SEGMENT_DIMENSIONS

#: Label names Alertmanager accepts (the classic Prometheus rule).
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: How far ahead of its send time a test notification's ``endsAt`` is.
TEST_HORIZON_MS = 5 * 60 * 1000


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


def segment_url(external_url: str, labels: dict[str, str]) -> str:
    """The health report of an alert's segment grouping and fleet (the read API), or ""."""
    base = external_url.rstrip("/")
    if not base:
        return ""
    by = [d for d in SEGMENT_DIMENSIONS if d in labels]
    query: dict[str, str] = {"by": ",".join(by)} if by else {}
    if "fleet" in labels:
        query["fleet"] = labels["fleet"]
    return f"{base}/api/v1/health" + (f"?{urlencode(query, safe=',')}" if query else "")


def render(kind: str, notice: Notice, *, receiver: str, external_url: str) -> str:
    """The body of ``notice`` for a hook of ``kind`` named ``receiver``."""
    body: Any
    if kind == "webhook":
        body = webhook_body(notice, external_url=external_url)
    elif kind == "alertmanager":
        ends_at = notice.resolved_at if notice.event == "resolved" else None
        body = alertmanager_body(
            [(notice, ends_at if ends_at is not None else notice.at + TEST_HORIZON_MS)],
            external_url=external_url,
        )
    elif kind == "slack":
        body = slack_body(notice, external_url=external_url)
    else:
        raise ValueError(f"unknown hook kind {kind!r}")
    return dump(body)


def dump(body: Any) -> str:
    """A body as compact JSON text."""
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


def alertmanager_body(
    alerts: Sequence[tuple[Notice, int]], *, external_url: str
) -> list[dict[str, Any]]:
    """Alertmanager's postable alerts: each notice with its ``endsAt`` (Unix ms).

    A firing alert's ``endsAt`` lies ahead (it is sent again before then while it
    fires); a resolved one's is when it resolved.
    """
    return [
        alertmanager_alert(notice, ends_at=ends_at, external_url=external_url)
        for notice, ends_at in alerts
    ]


def alertmanager_alert(notice: Notice, *, ends_at: int, external_url: str) -> dict[str, Any]:
    """One postable alert: string labels and annotations, startsAt, endsAt, generatorURL."""
    labels = {_label_name(k): str(v) for k, v in notice.labels.items()}
    labels.update(
        {
            "alertname": notice.rule,
            "severity": notice.severity,
            "tierwatch_rule": notice.rule,
            "tierwatch_fingerprint": notice.fingerprint,
        }
    )
    if notice.fleet is not None:
        labels["fleet"] = notice.fleet
    annotations = {k: str(v) for k, v in notice.annotations.items()}
    annotations.setdefault("summary", notice.summary)
    annotations.setdefault("description", notice.summary)
    alert_link = alert_url(external_url, notice.fingerprint)
    if alert_link:
        annotations["tierwatch_alert"] = alert_link
    alert: dict[str, Any] = {
        "labels": labels,
        "annotations": annotations,
        "startsAt": iso(notice.started_at if notice.started_at is not None else notice.at),
        "endsAt": iso(ends_at),
    }
    generator = segment_url(external_url, labels)
    if generator:
        alert["generatorURL"] = generator
    return alert


def _label_name(name: str) -> str:
    if _LABEL_NAME.match(name):
        return name
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return cleaned if _LABEL_NAME.match(cleaned) else f"_{cleaned}"


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
