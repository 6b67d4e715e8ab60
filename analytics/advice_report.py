"""The routing what-if of one task from the store: read the advice rollups, replay, recommend.

The one entry point the API, the CLI and the dashboard share. It reads whole
hours that the advice pass has folded (:mod:`analytics.advice_rollups`): the
window's start moves forward and its end back to whole hours, and hours not
folded yet are simply absent (the response's ``hours`` says how many there were).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import Connection, select

from analytics.advice import Advice, Goals, NoAdviceData, ReplayOptions, advise
from analytics.advice_rollups import LOCAL_TIERS, read_buckets, read_shapes
from analytics.config import CostSettings
from analytics.rollups import HOUR
from analytics.times import TimeRange
from collector.schema import ADVICE_ROLLUPS, SEGMENTS


class UnknownTier(ValueError):
    """The tier asked for is not a local tier (device or edge)."""


def _cloud_model(conn: Connection, *, task: str, fleet: str | None) -> str | None:
    """The task's cloud model when it has exactly one, for its price."""
    query = select(SEGMENTS.c.model).where(SEGMENTS.c.tier == "cloud", SEGMENTS.c.task == task)
    if fleet is not None:
        query = query.where(SEGMENTS.c.fleet == fleet)
    models = {str(m) for (m,) in conn.execute(query.distinct())}
    return models.pop() if len(models) == 1 else None


def advice_tasks(
    conn: Connection, *, start: datetime, end: datetime, fleet: str | None
) -> list[str]:
    """The tasks with folded local attempts in the whole hours of ``[start, end)``, sorted."""
    first = -(-int(start.timestamp()) // HOUR) * HOUR
    last = int(end.timestamp()) // HOUR * HOUR
    table = ADVICE_ROLLUPS
    query = select(table.c.task).where(table.c.hour >= first, table.c.hour + HOUR <= last)
    if fleet is not None:
        query = query.where(table.c.fleet == fleet)
    return sorted(str(t) for (t,) in conn.execute(query.distinct()))


def advice_report(
    conn: Connection,
    *,
    task: str,
    start: datetime,
    end: datetime,
    goals: Goals,
    prices: CostSettings | None = None,
    fleet: str | None = None,
    tier: str | None = None,
    options: ReplayOptions | None = None,
) -> Advice:
    """The what-if of ``task`` over the whole hours in ``[start, end)``.

    Without ``tier``, the local tier with the most attempts. Raises
    :class:`NoAdviceData` when no local attempt with a confidence was folded for
    the task, and :class:`UnknownTier` for a tier that is not local.
    """
    if tier is not None and tier not in LOCAL_TIERS:
        raise UnknownTier(tier)
    first = -(-int(start.timestamp()) // HOUR) * HOUR
    last = int(end.timestamp()) // HOUR * HOUR
    shapes = read_shapes(conn, task=task, start=first, end=last, fleet=fleet)
    if tier is None:
        tier = next(iter(shapes), None)
    if tier is None or tier not in shapes:
        raise NoAdviceData(task)
    data = read_buckets(
        conn, task=task, tier=tier, start=first, end=last, fleet=fleet, shape=shapes[tier]
    )
    advice = advise(
        data,
        task=task,
        fleet=fleet,
        tier=tier,
        goals=goals,
        prices=prices,
        cloud_model=_cloud_model(conn, task=task, fleet=fleet),
        options=options,
    )
    window = TimeRange(datetime.fromtimestamp(first, UTC), datetime.fromtimestamp(last, UTC))
    return replace(advice, window=window)
