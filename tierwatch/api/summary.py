"""``GET /api/v1/summary``: what the store holds and what the collector refused or dropped."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from analytics.summary import summary
from tierwatch.api.deps import ConnectionDep, ReadAuth

router = APIRouter(prefix="/api/v1", tags=["summary"])


class Totals(BaseModel):
    """Counts for one fleet or for all of them."""

    attempts: int = Field(
        description="Stored attempts (hybrid.inference spans), duplicates excluded."
    )
    requests: int = Field(description="Stored requests: attempts that start a request.")
    spans_received: int = Field(description="Spans received in export requests.")
    rejected: int = Field(description="Spans rejected for breaking the telemetry contract.")
    duplicates: int = Field(description="Re-sent attempts that were already stored.")
    other_spans: int = Field(
        description="Accepted spans that are not hybrid.inference (counted only)."
    )
    dropped_attributes: int = Field(description="Attributes dropped before storage.")
    dropped_by_key: dict[str, int] = Field(description="Dropped attributes by key (never values).")


class Folded(BaseModel):
    """What the cardinality limit of one dimension folded into ``__other__``."""

    attempts: int = Field(description="Stored attempts whose value was beyond the limit.")
    distinct_values: int = Field(
        description="Distinct values folded (each counted once per collector process that met it)."
    )
    limit: int | None = Field(
        default=None, description="The fleet's limit (collector.max_values); per fleet only."
    )


class FleetTotals(Totals):
    folded: dict[str, Folded] = Field(
        description="Per dimension, what went over the fleet's limit of distinct values."
    )


class Summary(Totals):
    folded: dict[str, Folded] = Field(
        description="Per dimension, summed over fleets: what went over the limits."
    )
    warnings: list[str] = Field(
        description="One line per fleet and dimension that reached its limit of distinct values."
    )
    fleets: dict[str, FleetTotals]


@router.get("/summary", response_model=Summary, summary="Stored attempts, requests and refusals")
def get_summary(request: Request, conn: ConnectionDep, principal: ReadAuth) -> dict[str, Any]:
    """Totals over all time; a fleet's token sees its own fleet only."""
    limits = request.app.state.settings.collector.value_limits()

    def limit(fleet: str, dimension: str) -> int:
        return int(limits.get(fleet, limits[None])[dimension])

    return summary(conn, fleet=principal.fleet, limit=limit)
