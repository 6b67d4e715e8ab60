"""``GET /api/v1/advice``: the routing what-if of one task's local confidence threshold."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from analytics.advice import Advice, Goals, LatencyObjective, NoAdviceData, merged_goals
from analytics.advice_report import UnknownTier, advice_report
from tierwatch.api.deps import AdviceQueryDep, ConnectionDep, ObjectivesDep, PricesDep
from tierwatch.api.query import BadParameter

router = APIRouter(prefix="/api/v1", tags=["advice"])

TierQuery = Annotated[
    str | None,
    Query(description="The local tier whose threshold is replayed: device or edge "
          "(default: the one with the most attempts)."),
]  # fmt: skip
FloorQuery = Annotated[
    float | None,
    Query(ge=0, le=1, description="The task's quality floor: the lowest mean quality allowed."),
]
LatencyQuery = Annotated[
    float | None,
    Query(gt=0, description="Latency objective: requests should finish within this (ms)."),
]
LatencyTargetQuery = Annotated[
    float,
    Query(gt=0, le=1, description="Latency objective: the share that must (default 0.95)."),
]


def goals_from(
    quality_floor: float | None, latency_ms: float | None, latency_target: float
) -> Goals:
    """The goals a request names."""
    latency = None if latency_ms is None else LatencyObjective(latency_ms, latency_target)
    return Goals(quality_floor=quality_floor, latency=latency)


@router.get(
    "/advice",
    response_model=Advice,
    summary="Replay a local tier's confidence threshold over recorded attempts",
)
def get_advice(
    conn: ConnectionDep,
    prices: PricesDep,
    objectives: ObjectivesDep,
    query: AdviceQueryDep,
    tier: TierQuery = None,
    quality_floor: FloorQuery = None,
    latency_ms: LatencyQuery = None,
    latency_target: LatencyTargetQuery = 0.95,
) -> Advice:
    """Local share, cloud escalation rate, quality, p95 latency, cost and energy for every
    threshold from 0.00 to 1.00, the current threshold, and the cheapest one that meets
    the quality floor and latency objective (``null`` with the reason when none does).
    A goal the request leaves out comes from the task's ``[[objectives]]``.

    Example: ``/api/v1/advice?task=photo-tag&window=7d&quality_floor=0.9``.
    """
    task = query.key.get("task")
    if task is None:
        raise BadParameter("task", "required, e.g. task=photo-tag")
    try:
        return advice_report(
            conn,
            task=task,
            start=query.start,
            end=query.end,
            goals=merged_goals(
                goals_from(quality_floor, latency_ms, latency_target),
                objectives,
                task=task,
                fleet=query.fleet,
            ),
            prices=prices,
            fleet=query.fleet,
            tier=tier,
        )
    except UnknownTier:
        raise BadParameter("tier", f"{tier!r} is not a local tier; use device or edge") from None
    except NoAdviceData:
        raise HTTPException(
            status_code=404,
            detail=f"no local attempts with a confidence for task {task!r} in the window's "
            "folded hours",
        ) from None
