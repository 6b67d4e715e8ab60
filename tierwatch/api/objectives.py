"""``GET /api/v1/objectives``: every objective's SLI, error budget left, burn rates and status."""

from __future__ import annotations

from fastapi import APIRouter, Request

from analytics.config import Objective
from analytics.objective_sums import objective_report
from analytics.objectives import ObjectiveStatus
from analytics.times import Time
from tierwatch.api.deps import ConnectionDep, ObjectivesQueryDep
from tierwatch.api.models import ResponseModel

router = APIRouter(prefix="/api/v1", tags=["objectives"])


class ObjectivesResponse(ResponseModel):
    end: Time
    objectives: list[ObjectiveStatus]


def _objectives(request: Request) -> list[Objective]:
    return list(request.app.state.settings.objectives)


def visible(objectives: list[Objective], fleet: str | None) -> list[Objective]:
    """The objectives of ``fleet`` when one is asked (or is the token's); else all."""
    return [o for o in objectives if fleet is None or o.fleet == fleet]


@router.get(
    "/objectives",
    response_model=ObjectivesResponse,
    summary="Objectives: SLI, error budget left, burn rates and status, one row per kind",
)
def get_objectives(
    request: Request, conn: ConnectionDep, query: ObjectivesQueryDep
) -> ObjectivesResponse:
    """Each ``[[objectives]]`` entry, one row per kind (latency, availability, quality).

    A fleet's token sees the objectives of its fleet only. Example:
    ``/api/v1/objectives?end=2025-01-31T12:00:00Z``.
    """
    end = query.end.replace(second=0, microsecond=0)
    chosen = visible(_objectives(request), query.key.get("fleet"))
    return ObjectivesResponse(end=end, objectives=objective_report(conn, chosen, end=end))
