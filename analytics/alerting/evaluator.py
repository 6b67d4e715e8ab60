"""One evaluation pass: rules → states → mute → de-duplicate → outbox, under the lease.

:func:`evaluate` reads what the rules need (the health report and metrics
frames), hands everything to :func:`plan_pass`, which is pure, and writes the
plan in one transaction: alert rows, their history and the notification rows
together, fenced by the evaluator lease so that only its holder writes.
Alertmanager hooks get their batches (:mod:`analytics.alerting.batches`) in the
same transaction, so their re-sends are outbox rows like any notification.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, RowMapping, insert, select, update

from analytics.alerting import lease, outbox
from analytics.alerting.batches import Batch, batches_due, horizon_ms
from analytics.alerting.config import (
    DEGRADED_RULE,
    OBJECTIVE_PAGE_RULE,
    OBJECTIVE_TICKET_RULE,
    PRIVACY_RULE,
    AlertRule,
    AlertsSettings,
    parse_for,
)
from analytics.alerting.dedup import notification_due
from analytics.alerting.payloads import Notice, alertmanager_body, dump, render
from analytics.alerting.routing import hooks_for
from analytics.alerting.rules import (
    Candidate,
    degraded_candidates,
    objective_candidates,
    privacy_candidates,
    threshold_candidates,
)
from analytics.alerting.signing import new_webhook_id
from analytics.alerting.silences import Silence, active_silences, muted_by
from analytics.alerting.states import (
    ACTIVE_STATES,
    FIRING,
    RESOLVED,
    Alert,
    Transition,
    advance,
)
from analytics.alerting.times import to_ms
from analytics.config import AnalyticsSettings, Objective
from analytics.durations import parse_duration
from analytics.health import health_report
from analytics.objective_sums import objective_report
from analytics.timeseries import metrics_frame
from collector.config import PrivacySettings
from collector.db import WRITE
from collector.schema import ALERT_EVENTS, ALERTS

log = logging.getLogger(__name__)
_CHUNK = 500


@dataclass(frozen=True)
class Collected:
    """What the rules raise now, and which rules could be evaluated."""

    candidates: list[Candidate]
    evaluated: frozenset[str]
    configured: frozenset[str]


@dataclass(frozen=True)
class Plan:
    """What one pass writes: changed alerts, their transitions, and notifications due.

    ``firing`` holds every alert firing after the pass that operators were told of
    and that is not muted (what Alertmanager hooks are sent again).
    """

    alerts: list[Alert]
    new: frozenset[str]
    transitions: list[Transition]
    notices: list[tuple[Alert, str]]
    firing: list[Alert] = dataclasses.field(default_factory=list)


@dataclass(frozen=True)
class Evaluation:
    """The outcome of one pass, for logs and tests."""

    candidates: int
    transitions: list[Transition]
    notifications: int


def collect(
    conn: Connection,
    alerts: AlertsSettings,
    *,
    analytics: AnalyticsSettings,
    privacy: PrivacySettings,
    now: datetime,
    objectives: Sequence[Objective] = (),
) -> Collected:
    """Run every configured rule at ``now``; a rule that fails is logged and left out.

    Besides the alerts section, the rules read the analytics thresholds (for the
    health report behind ``segment_degraded``), the privacy policy (violations
    are recounted under the fleets' current policies) and the objectives (their
    burn alerts, both rules from one report).
    """
    candidates: list[Candidate] = []
    evaluated: set[str] = set()
    configured = {rule.name for rule in alerts.rules}
    frames: dict[tuple[tuple[str, ...], timedelta], pd.DataFrame] = {}

    def frame(by: Sequence[str], window: timedelta) -> pd.DataFrame:
        key = (tuple(by), window)
        if key not in frames:
            frames[key] = metrics_frame(conn, start=now - window, end=now, by=by, privacy=privacy)
        return frames[key]

    def run(name: str, raise_candidates: Callable[[], list[Candidate]]) -> None:
        try:
            candidates.extend(raise_candidates())
        except Exception:
            log.exception("alert rule %s could not be evaluated; its alerts keep their state", name)
            return
        evaluated.add(name)

    by = alerts.dimensions()
    if alerts.degraded_rule:
        configured.add(DEGRADED_RULE)
        run(
            DEGRADED_RULE,
            lambda: degraded_candidates(
                health_report(
                    conn,
                    end=now,
                    window=parse_duration(alerts.window),
                    baseline=parse_duration(alerts.baseline) if alerts.baseline else None,
                    by=by,
                    fleet=None,
                    settings=analytics,
                    privacy=privacy,
                ),
                for_=parse_for(alerts.degraded_for),
            ),
        )
    rule_window = parse_duration(alerts.rule_window)
    if alerts.privacy_rule:
        configured.add(PRIVACY_RULE)
        run(
            PRIVACY_RULE,
            lambda: privacy_candidates(
                frame(by, rule_window),
                by=by,
                window=rule_window,
                for_=parse_for(alerts.privacy_for),
            ),
        )

    if objectives:
        configured.update((OBJECTIVE_PAGE_RULE, OBJECTIVE_TICKET_RULE))
        # One report raises both rules: they are evaluated together or not at all.
        run(
            OBJECTIVE_PAGE_RULE,
            lambda: objective_candidates(objective_report(conn, objectives, end=now)),
        )
        if OBJECTIVE_PAGE_RULE in evaluated:
            evaluated.add(OBJECTIVE_TICKET_RULE)

    def threshold(rule: AlertRule, dims: list[str], window: timedelta) -> list[Candidate]:
        return threshold_candidates(rule, frame(dims, window), by=dims, window=window)

    for rule in alerts.rules:
        dims = alerts.dimensions([*(rule.by or alerts.by), *rule.match])
        window = parse_duration(rule.window) if rule.window else rule_window
        run(rule.name, functools.partial(threshold, rule, dims, window))
    return Collected(
        candidates=candidates, evaluated=frozenset(evaluated), configured=frozenset(configured)
    )


def plan_pass(
    current: Mapping[str, Alert],
    collected: Collected,
    silences: Iterable[Silence],
    *,
    now: int,
    evaluator: str,
    repeat_interval_ms: int,
) -> Plan:
    """Advance every alert one step and decide its notifications (pure).

    Alerts of rules that could not be evaluated keep their state; alerts of rules
    no longer configured resolve.
    """
    silences = list(silences)
    by_fingerprint = {c.fingerprint: c for c in collected.candidates}
    fingerprints = list(by_fingerprint)
    for fingerprint, alert in current.items():
        if fingerprint in by_fingerprint or alert.state not in ACTIVE_STATES:
            continue
        if alert.rule in collected.configured and alert.rule not in collected.evaluated:
            continue
        fingerprints.append(fingerprint)
    changed: list[Alert] = []
    transitions: list[Transition] = []
    notices: list[tuple[Alert, str]] = []
    firing = [
        alert
        for fingerprint, alert in current.items()
        if fingerprint not in fingerprints and _told_firing(alert)
    ]
    for fingerprint in fingerprints:
        before = current.get(fingerprint)
        after, transition = advance(
            before, by_fingerprint.get(fingerprint), now=now, evaluator=evaluator
        )
        if after is None:
            continue
        silence = muted_by(silences, after.labels, fleet=after.fleet, now=now)
        after = dataclasses.replace(after, silenced_by=silence.id if silence else None)
        due = notification_due(
            after, now=now, repeat_interval_ms=repeat_interval_ms, muted=silence is not None
        )
        if due is not None:
            after = dataclasses.replace(after, notified_state=due, last_notified_at=now)
            notices.append((after, due))
        if transition is not None:
            transitions.append(transition)
        if after != before:
            changed.append(after)
        if _told_firing(after):
            firing.append(after)
    new = frozenset(a.fingerprint for a in changed if a.fingerprint not in current)
    return Plan(alerts=changed, new=new, transitions=transitions, notices=notices, firing=firing)


def _told_firing(alert: Alert) -> bool:
    return alert.state == FIRING and alert.notified_state == FIRING and alert.silenced_by is None


def plan_batches(
    alerts: AlertsSettings,
    plan: Plan,
    *,
    resolved: Iterable[Alert],
    last_sent: Mapping[tuple[str, str], int],
    now: int,
) -> list[Batch]:
    """The Alertmanager batches of a planned pass (pure).

    ``resolved`` are alerts stored as resolved recently (before this pass).
    """
    told_resolved = {a.fingerprint: a for a in resolved if a.notified_state == RESOLVED}
    for alert in plan.alerts:
        told_resolved.pop(alert.fingerprint, None)
        if alert.state == RESOLVED and alert.notified_state == RESOLVED:
            told_resolved[alert.fingerprint] = alert
    return batches_due(
        alerts.hooks,
        firing=plan.firing,
        resolved=list(told_resolved.values()),
        changed=[alert for alert, _ in plan.notices],
        last_sent=last_sent,
        now=now,
        evaluation_interval_seconds=alerts.evaluation_interval_seconds,
    )


def evaluate(
    engine: Engine,
    alerts: AlertsSettings,
    *,
    analytics: AnalyticsSettings,
    privacy: PrivacySettings,
    public_url: str,
    holder: str,
    clock: Callable[[], datetime],
    objectives: Sequence[Objective] = (),
) -> Evaluation | None:
    """One pass if this server holds (or gets) the evaluator lease; ``None`` otherwise.

    ``public_url`` is the server's base URL, put in notifications as the link back;
    ``objectives`` raise their burn alerts.
    """
    ttl_ms = int(alerts.lease_seconds * 1000)
    if not lease.acquire(
        engine, name=lease.EVALUATOR, holder=holder, now=to_ms(clock()), ttl_ms=ttl_ms
    ):
        return None
    now = clock()
    now_ms = to_ms(now)
    am_hooks = [h for h in alerts.hooks if h.kind == "alertmanager"]
    horizon = max((horizon_ms(h, alerts.evaluation_interval_seconds) for h in am_hooks), default=0)
    with engine.connect() as conn:
        collected = collect(
            conn, alerts, analytics=analytics, privacy=privacy, now=now, objectives=objectives
        )
        current = load_alerts(conn, [c.fingerprint for c in collected.candidates])
        silences = active_silences(conn, now=now_ms)
        resolved = load_resolved(conn, since=now_ms - horizon) if am_hooks else []
        last_sent = outbox.last_batches(conn) if am_hooks else {}
    plan = plan_pass(
        current,
        collected,
        silences,
        now=now_ms,
        evaluator=holder,
        repeat_interval_ms=int(parse_duration(alerts.repeat_interval).total_seconds() * 1000),
    )
    batches = plan_batches(alerts, plan, resolved=resolved, last_sent=last_sent, now=now_ms)
    deliveries = 0
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE: True})
        with conn.begin():
            lease.hold(conn, name=lease.EVALUATOR, holder=holder, now=to_ms(clock()), ttl_ms=ttl_ms)
            write_alerts(conn, plan)
            for alert, event in plan.notices:
                deliveries += enqueue_notice(
                    conn, alerts, alert, event, now=now_ms, external_url=public_url
                )
            keep_ms = int(parse_duration(alerts.max_age).total_seconds() * 1000)
            for batch in batches:
                enqueue_batch(conn, batch, now=now_ms, external_url=public_url, keep_ms=keep_ms)
            deliveries += len(batches)
    for transition in plan.transitions:
        log.info(
            "alert %s: %s -> %s: %s",
            transition.fingerprint,
            transition.from_state,
            transition.to_state,
            transition.summary,
        )
    return Evaluation(
        candidates=len(collected.candidates),
        transitions=plan.transitions,
        notifications=deliveries,
    )


def load_alerts(conn: Connection, fingerprints: Sequence[str]) -> dict[str, Alert]:
    """Active alerts, and the alerts of ``fingerprints`` whatever their state."""
    rows = list(conn.execute(select(ALERTS).where(ALERTS.c.state.in_(ACTIVE_STATES))).mappings())
    for i in range(0, len(fingerprints), _CHUNK):
        chunk = list(fingerprints[i : i + _CHUNK])
        rows += conn.execute(
            select(ALERTS).where(
                ALERTS.c.fingerprint.in_(chunk), ALERTS.c.state.not_in(ACTIVE_STATES)
            )
        ).mappings()
    return {row["fingerprint"]: _alert(row) for row in rows}


def load_resolved(conn: Connection, *, since: int) -> list[Alert]:
    """Alerts resolved at ``since`` or later."""
    query = select(ALERTS).where(ALERTS.c.state == RESOLVED, ALERTS.c.resolved_at >= since)
    return [_alert(row) for row in conn.execute(query).mappings()]


def _alert(row: RowMapping) -> Alert:
    values = dict(row)
    values["labels"] = json.loads(values["labels"])
    values["annotations"] = json.loads(values["annotations"])
    return Alert(**values)


def _row(alert: Alert) -> dict[str, Any]:
    values = dataclasses.asdict(alert)
    values["labels"] = json.dumps(alert.labels, sort_keys=True)
    values["annotations"] = json.dumps(alert.annotations, sort_keys=True)
    return values


def write_alerts(conn: Connection, plan: Plan) -> None:
    """Write the plan's alert rows and history (in the caller's transaction)."""
    for alert in plan.alerts:
        values = _row(alert)
        if alert.fingerprint in plan.new:
            conn.execute(insert(ALERTS).values(**values))
        else:
            conn.execute(
                update(ALERTS).where(ALERTS.c.fingerprint == alert.fingerprint).values(**values)
            )
    if plan.transitions:
        conn.execute(
            insert(ALERT_EVENTS),
            [dataclasses.asdict(t) for t in plan.transitions],
        )


def notice_of(alert: Alert, event: str, *, now: int) -> Notice:
    """What a notification of ``alert`` says at ``now``."""
    return Notice(
        event=event,
        fingerprint=alert.fingerprint,
        rule=alert.rule,
        severity=alert.severity,
        fleet=alert.fleet,
        labels=alert.labels,
        annotations=alert.annotations,
        summary=alert.summary,
        value=alert.value,
        started_at=alert.started_at,
        resolved_at=alert.resolved_at,
        at=now,
    )


def enqueue_notice(
    conn: Connection,
    settings: AlertsSettings,
    alert: Alert,
    event: str,
    *,
    now: int,
    external_url: str,
) -> int:
    """Write one notification row per hook that takes ``alert``; return how many.

    Alertmanager hooks are left out: they get batches (:func:`enqueue_batch`).
    """
    notice = notice_of(alert, event, now=now)
    hooks = [
        hook
        for hook in hooks_for(settings.hooks, fleet=alert.fleet, severity=alert.severity)
        if hook.kind != "alertmanager"
    ]
    for hook in hooks:
        outbox.enqueue(
            conn,
            webhook_id=new_webhook_id(),
            hook=hook.name,
            kind=hook.kind,
            event=event,
            body=render(hook.kind, notice, receiver=hook.name, external_url=external_url),
            fingerprint=alert.fingerprint,
            fleet=alert.fleet,
            now=now,
        )
    return len(hooks)


def enqueue_batch(
    conn: Connection, batch: Batch, *, now: int, external_url: str, keep_ms: int
) -> int:
    """Write one Alertmanager batch row; supersede the older ones waiting; return its id.

    Finished batches of the hook and fleet older than ``keep_ms`` are deleted.
    """
    body = alertmanager_body(
        [
            (notice_of(alert, FIRING if alert.state == FIRING else RESOLVED, now=now), ends_at)
            for alert, ends_at in batch.alerts
        ],
        external_url=external_url,
    )
    delivery_id = outbox.enqueue(
        conn,
        webhook_id=new_webhook_id(),
        hook=batch.hook.name,
        kind=batch.hook.kind,
        event=outbox.BATCH,
        body=dump(body),
        fingerprint=None,
        fleet=batch.fleet,
        now=now,
    )
    outbox.supersede(conn, hook=batch.hook.name, fleet=batch.fleet, newer=delivery_id, now=now)
    outbox.prune_batches(conn, hook=batch.hook.name, fleet=batch.fleet, before=now - keep_ms)
    return delivery_id
