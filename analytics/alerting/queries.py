"""Read functions over alerts, their history, deliveries and silences, as data frames.

The API, the CLI and the dashboard read alerting state only through these. Each
takes the fleet a caller may see (``None``: every fleet). Times come back as UTC
timestamps (``NaT`` when not set); JSON columns come back as Python objects.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Select, case, or_, select

from analytics.alerting.times import ms_column, to_ms
from collector.schema import ALERT_EVENTS, ALERTS, DELIVERIES, SILENCES

#: Alert states, in the order lists show them.
ALERT_STATES = ("firing", "pending", "resolved", "inactive")
#: Delivery statuses.
DELIVERY_STATUSES = ("pending", "delivered", "failed", "dead", "superseded")

ALERT_COLUMNS = (
    "fingerprint",
    "rule",
    "severity",
    "state",
    "labels",
    "summary",
    "started_at",
    "resolved_at",
    "last_evaluated_at",
    "fleet",
    "value",
    "annotations",
    "active_since",
    "silenced_by",
)
EVENT_COLUMNS = ("id", "fingerprint", "fleet", "at", "from_state", "to_state", "value", "summary")
DELIVERY_COLUMNS = (
    "id",
    "webhook_id",
    "hook",
    "fingerprint",
    "status",
    "attempts",
    "last_status_code",
    "last_error",
    "created_at",
    "next_attempt_at",
    "delivered_at",
    "event",
    "kind",
    "fleet",
)
SILENCE_COLUMNS = (
    "id",
    "matchers",
    "starts_at",
    "ends_at",
    "created_by",
    "comment",
    "fleet",
    "active",
    "created_at",
)


def list_alerts(
    conn: Connection,
    *,
    fleet: str | None,
    states: Sequence[str] | None = None,
    limit: int = 200,
) -> pd.DataFrame:
    """Alerts, firing first, then pending, resolved and inactive; newest first within each.

    Columns: fingerprint, rule, severity, state, labels (dict), summary,
    started_at (when it fired), resolved_at, last_evaluated_at, then fleet, value
    (the metric value at the last evaluation), annotations (dict), active_since
    (when its condition became true) and silenced_by (a silence id, or ``None``).
    ``states`` limits the list (``None``: all).
    """
    table = ALERTS
    unknown = [s for s in states or () if s not in ALERT_STATES]
    if unknown:
        raise ValueError(
            f"unknown alert state {unknown[0]!r}; states are {', '.join(ALERT_STATES)}"
        )
    rank = case({state: i for i, state in enumerate(ALERT_STATES)}, value=table.c.state)
    query = select(*(table.c[c] for c in ALERT_COLUMNS))
    if fleet is not None:
        query = query.where(table.c.fleet == fleet)
    if states is not None:
        query = query.where(table.c.state.in_(list(states)))
    query = query.order_by(rank, table.c.active_since.desc(), table.c.fingerprint).limit(limit)
    return _alerts_frame(conn.execute(query).mappings().all())


def get_alert(conn: Connection, *, fingerprint: str, fleet: str | None) -> dict[str, Any] | None:
    """One alert as a row of :func:`list_alerts` (a dict), or ``None`` if not visible."""
    query = select(*(ALERTS.c[c] for c in ALERT_COLUMNS)).where(ALERTS.c.fingerprint == fingerprint)
    if fleet is not None:
        query = query.where(ALERTS.c.fleet == fleet)
    frame = _alerts_frame(conn.execute(query).mappings().all())
    return frame.to_dict("records")[0] if len(frame) else None


def _alerts_frame(rows: Sequence[Any]) -> pd.DataFrame:
    frame = _frame(rows, ALERT_COLUMNS)
    for column in ("labels", "annotations"):
        frame[column] = frame[column].map(json.loads).astype(object)
    for column in ("started_at", "resolved_at", "last_evaluated_at", "active_since"):
        frame[column] = ms_column(frame[column])
    frame["value"] = pd.to_numeric(frame["value"]).astype(float)
    frame["silenced_by"] = frame["silenced_by"].astype("Int64")
    return frame


def alert_history(
    conn: Connection,
    *,
    fleet: str | None,
    fingerprint: str | None = None,
    limit: int = 200,
) -> pd.DataFrame:
    """State changes of alerts (of one alert with ``fingerprint``), newest first.

    Columns: id, fingerprint, fleet, at, from_state (``None`` for the first),
    to_state, value, summary.
    """
    table = ALERT_EVENTS
    query = select(*(table.c[c] for c in EVENT_COLUMNS))
    if fleet is not None:
        query = query.where(table.c.fleet == fleet)
    if fingerprint is not None:
        query = query.where(table.c.fingerprint == fingerprint)
    query = query.order_by(table.c.at.desc(), table.c.id.desc()).limit(limit)
    frame = _frame(conn.execute(query).mappings().all(), EVENT_COLUMNS)
    frame["at"] = ms_column(frame["at"])
    frame["id"] = frame["id"].astype("int64")
    frame["value"] = pd.to_numeric(frame["value"]).astype(float)
    return frame


def list_deliveries(
    conn: Connection,
    *,
    fleet: str | None,
    limit: int = 200,
    statuses: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Notifications to hooks with their delivery status, newest first.

    Columns: id, webhook_id, hook, fingerprint (of the alert; ``None`` for a test
    notification or an Alertmanager batch), status (pending, delivered, failed, dead,
    superseded), attempts, last_status_code, last_error, created_at, next_attempt_at,
    delivered_at, then event (firing, resolved, test, batch), kind (webhook,
    alertmanager, slack) and fleet.
    A fleet sees the deliveries of its own alerts only.
    """
    table = DELIVERIES
    unknown = [s for s in statuses or () if s not in DELIVERY_STATUSES]
    if unknown:
        raise ValueError(
            f"unknown delivery status {unknown[0]!r}; statuses are {', '.join(DELIVERY_STATUSES)}"
        )
    query = select(*(table.c[c] for c in DELIVERY_COLUMNS))
    if fleet is not None:
        query = query.where(table.c.fleet == fleet)
    if statuses is not None:
        query = query.where(table.c.status.in_(list(statuses)))
    query = query.order_by(table.c.id.desc()).limit(limit)
    frame = _frame(conn.execute(query).mappings().all(), DELIVERY_COLUMNS)
    for column in ("created_at", "next_attempt_at", "delivered_at"):
        frame[column] = ms_column(frame[column])
    frame["last_status_code"] = frame["last_status_code"].astype("Int64")
    frame[["id", "attempts"]] = frame[["id", "attempts"]].astype("int64")
    return frame


def list_silences(
    conn: Connection,
    *,
    fleet: str | None,
    active_only: bool = False,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Silences, newest first: a fleet sees its own and those for every fleet.

    Columns: id, matchers (list of ``{"name", "op", "value"}``), starts_at,
    ends_at, created_by, comment, then fleet (``None``: every fleet), active (at
    ``now``, default the current time) and created_at. ``active_only`` lists the
    silences in force at ``now``.
    """
    table = SILENCES
    at = to_ms(now or datetime.now(UTC))
    query = _silences_query(fleet)
    if active_only:
        query = query.where(table.c.starts_at <= at, table.c.ends_at > at)
    return _silences_frame(conn, query.order_by(table.c.id.desc()), at)


def get_silence(
    conn: Connection, *, silence_id: int, fleet: str | None, now: datetime | None = None
) -> dict[str, Any] | None:
    """One silence as a row of :func:`list_silences` (a dict), or ``None`` if not visible."""
    at = to_ms(now or datetime.now(UTC))
    query = _silences_query(fleet).where(SILENCES.c.id == silence_id)
    frame = _silences_frame(conn, query, at)
    return frame.to_dict("records")[0] if len(frame) else None


def _silences_query(fleet: str | None) -> Select[Any]:
    table = SILENCES
    query = select(*(table.c[c] for c in SILENCE_COLUMNS if c != "active"))
    if fleet is not None:
        query = query.where(or_(table.c.fleet == fleet, table.c.fleet.is_(None)))
    return query


def _silences_frame(conn: Connection, query: Select[Any], at: int) -> pd.DataFrame:
    rows = [
        {**row, "active": row["starts_at"] <= at < row["ends_at"]}
        for row in conn.execute(query).mappings().all()
    ]
    frame = _frame(rows, SILENCE_COLUMNS)
    frame["matchers"] = frame["matchers"].map(json.loads).astype(object)
    frame["active"] = frame["active"].astype(bool)
    frame["id"] = frame["id"].astype("int64")
    for column in ("starts_at", "ends_at", "created_at"):
        frame[column] = ms_column(frame[column])
    return frame


def _frame(rows: Sequence[Any], columns: Sequence[str]) -> pd.DataFrame:
    """A data frame of ``rows`` with exactly ``columns``, also when there are none.

    Text columns stay Python objects, with ``None`` (not NaN) where the store has NULL.
    """
    frame = pd.DataFrame([dict(r) for r in rows], columns=list(columns))
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            values = frame[column].astype(object)
            frame[column] = values.where(values.notna(), None)
    return frame
