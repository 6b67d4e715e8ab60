"""``GET /api/v1/summary``: what the store holds and what the collector refused or dropped."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
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


class Summary(Totals):
    fleets: dict[str, Totals]


@router.get("/summary", response_model=Summary, summary="Stored attempts, requests and refusals")
def get_summary(conn: ConnectionDep, principal: ReadAuth) -> dict[str, Any]:
    """Totals over all time; a fleet's token sees its own fleet only."""
    return summary(conn, fleet=principal.fleet)
