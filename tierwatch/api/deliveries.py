"""``/api/v1/deliveries``: notifications to hooks and their delivery status."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from analytics.alerting.queries import DELIVERY_STATUSES, list_deliveries
from tierwatch.api.alert_models import DeliveriesResponse, records
from tierwatch.api.deps import ConnectionDep, ReadAuth
from tierwatch.api.query import BadParameter, FleetQuery, fleet_scope

router = APIRouter(prefix="/api/v1", tags=["alerts"])


@router.get(
    "/deliveries", response_model=DeliveriesResponse, summary="Notifications and their status"
)
def get_deliveries(
    conn: ConnectionDep,
    principal: ReadAuth,
    status: Annotated[
        str | None,
        Query(
            description="Comma-separated statuses: "
            + ", ".join(DELIVERY_STATUSES)
            + " (default all)."
        ),
    ] = None,
    fleet: FleetQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Most rows returned.")] = 200,
) -> dict[str, Any]:
    """Every notification to a hook, newest first, with attempts and the last answer.

    Example: ``/api/v1/deliveries?status=pending,dead``.
    """
    statuses = [s.strip() for s in status.split(",") if s.strip()] if status else None
    try:
        frame = list_deliveries(
            conn, fleet=fleet_scope(principal, fleet), limit=limit, statuses=statuses
        )
    except ValueError as exc:
        raise BadParameter("status", str(exc)) from None
    return {"deliveries": records(frame)}
