"""``/api/v1/alerts``: alerts in their latest state, and their history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query

from analytics.alerting.queries import ALERT_STATES, alert_history, get_alert, list_alerts
from tierwatch.api.alert_models import (
    AlertDetail,
    AlertHistoryResponse,
    AlertsResponse,
    record,
    records,
)
from tierwatch.api.deps import ConnectionDep, ReadAuth
from tierwatch.api.query import BadParameter, FleetQuery, fleet_scope

router = APIRouter(prefix="/api/v1", tags=["alerts"])

LimitQuery = Annotated[int, Query(ge=1, le=1000, description="Most rows returned.")]
FingerprintPath = Annotated[
    str, Path(pattern="^[0-9a-f]{16}$", description="The alert's fingerprint (16 hex digits).")
]


@router.get("/alerts", response_model=AlertsResponse, summary="Alerts and their states")
def get_alerts(
    conn: ConnectionDep,
    principal: ReadAuth,
    state: Annotated[
        str | None,
        Query(description="Comma-separated states: " + ", ".join(ALERT_STATES) + " (default all)."),
    ] = None,
    fleet: FleetQuery = None,
    limit: LimitQuery = 200,
) -> dict[str, Any]:
    """Alerts, firing first, then pending, resolved and inactive.

    Example: ``/api/v1/alerts?state=firing,pending``.
    """
    states = [s.strip() for s in state.split(",") if s.strip()] if state else None
    try:
        frame = list_alerts(conn, fleet=fleet_scope(principal, fleet), states=states, limit=limit)
    except ValueError as exc:
        raise BadParameter("state", str(exc)) from None
    return {"alerts": records(frame)}


@router.get(
    "/alerts/history",
    response_model=AlertHistoryResponse,
    summary="State changes of every alert",
)
def get_alert_history(
    conn: ConnectionDep,
    principal: ReadAuth,
    fleet: FleetQuery = None,
    limit: LimitQuery = 200,
) -> dict[str, Any]:
    """Every state change (pending, firing, resolved, inactive), newest first."""
    frame = alert_history(conn, fleet=fleet_scope(principal, fleet), limit=limit)
    return {"events": records(frame)}


@router.get(
    "/alerts/{fingerprint}",
    response_model=AlertDetail,
    summary="One alert with its history",
    responses={404: {"description": "No such alert (or not in this token's fleet)."}},
)
def get_one_alert(
    fingerprint: FingerprintPath, conn: ConnectionDep, principal: ReadAuth, limit: LimitQuery = 200
) -> dict[str, Any]:
    """The alert ``fingerprint`` and its state changes, newest first."""
    fleet = fleet_scope(principal, None)
    alert = get_alert(conn, fingerprint=fingerprint, fleet=fleet)
    if alert is None:
        raise HTTPException(status_code=404, detail=f"no alert {fingerprint!r}")
    history = alert_history(conn, fleet=fleet, fingerprint=fingerprint, limit=limit)
    return {**record(alert), "history": records(history)}
