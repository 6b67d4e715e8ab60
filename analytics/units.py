"""Read rollups per group of a report's dimensions, added up in SQL, for stores of many segments.

A report over a store of 50,000 segments cannot read each segment's dense
histograms for each of the dozen periods it compares: that is gigabytes. Above
``analytics.report_max_segments`` it reads *units* instead: the combinations of
its ``by`` dimensions with fleet and tier (which the privacy policy and the
cloud escalation rate need), added up by the database. At most
``analytics.report_max_groups`` of them are read as they are, those with the
most attempts over the report's periods; the others are added, still in SQL,
into one unit per fleet and tier whose other values read :data:`OVERFLOW`.

Memory is then bounded by the number of units, whatever the store holds. The
price: dimensions outside ``by`` are not known per unit, so a finding names no
sub-segments and parts of a segment are not checked for silence.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Float, case, cast, func, literal, select, tuple_, union_all
from sqlalchemy.pool import SingletonThreadPool, StaticPool
from sqlalchemy.sql.elements import ColumnElement

from analytics import aggregates
from analytics.aggregates import Aggregates
from analytics.rollups import hist_concat, plan, to_aggregates
from collector.cardinality import OVERFLOW
from collector.rollup import SUM_COLUMNS
from collector.schema import HOURLY_ROLLUPS, SEGMENT_DIMENSIONS, SEGMENTS

#: Dimensions every unit keeps: the privacy policy is per fleet, escalation needs the tier.
ALWAYS = ("fleet", "tier")


@dataclass(frozen=True)
class Units:
    """The units a report reads: their dimensions, which groups are kept, what was folded."""

    #: Dimensions of a unit, in :data:`SEGMENT_DIMENSIONS` order.
    dims: tuple[str, ...]
    #: Units as a segments frame: index unit id, a column per dimension ('' outside ``dims``).
    frame: pd.DataFrame
    #: Kept combinations of ``dims``; ``None`` when every one is kept.
    kept: list[tuple[str, ...]] | None
    #: How many combinations hold attempts over the report's periods.
    groups: int

    @property
    def folded(self) -> int:
        """How many combinations were added into the overflow units."""
        return self.groups - len(self.kept) if self.kept is not None else 0


def count_segments(conn: Connection, *, fleet: str | None = None) -> int:
    """How many segments the store holds (of ``fleet``)."""
    query = select(func.count()).select_from(SEGMENTS)
    if fleet is not None:
        query = query.where(SEGMENTS.c.fleet == fleet)
    return int(conn.execute(query).scalar_one())


def unit_dims(by: Sequence[str]) -> tuple[str, ...]:
    """The dimensions of a unit for a report split by ``by``."""
    return tuple(d for d in SEGMENT_DIMENSIONS if d in by or d in ALWAYS)


def plan_units(
    conn: Connection,
    *,
    by: Sequence[str],
    fleet: str | None,
    start: int,
    end: int,
    max_groups: int,
    watermark: int | None,
) -> Units:
    """The units of a report split by ``by``, ranked by attempts over ``[start, end)``.

    The database ranks the combinations; only the ``max_groups`` kept come back.
    """
    dims = unit_dims(by)
    parts = []
    for table, lo, hi in plan(start, end, watermark):
        time = table.c.hour if table is HOURLY_ROLLUPS else table.c.minute
        part = (
            select(*(SEGMENTS.c[d].label(f"u_{d}") for d in dims), table.c.attempts)
            .join(SEGMENTS, SEGMENTS.c.id == table.c.segment_id)
            .where(time >= lo, time < hi, table.c.shadow.is_(False))
        )
        if fleet is not None:
            part = part.where(SEGMENTS.c.fleet == fleet)
        parts.append(part)
    if not parts:
        return Units(dims=dims, frame=_frame(dims, []), kept=None, groups=0)
    rows = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    keys = [rows.c[f"u_{d}"] for d in dims]
    total = func.sum(rows.c.attempts)
    # Only the groups shown come back, and how many there are in all.
    ranked = conn.execute(
        select(*keys, func.count().over())
        .group_by(*keys)
        .order_by(total.desc(), *keys)
        .limit(max_groups + 1)
    ).all()
    groups = int(ranked[0][-1]) if ranked else 0
    combos = [tuple(str(v) for v in row[:-1]) for row in ranked]
    kept: list[tuple[str, ...]] | None = None
    if groups > max_groups:
        kept = sorted(combos[:max_groups])
        # Every fleet and tier may hold folded groups: one overflow unit each.
        tiers = conn.execute(
            select(*(SEGMENTS.c[d] for d in dims if d in ALWAYS))
            .distinct()
            .where(*([SEGMENTS.c.fleet == fleet] if fleet is not None else []))
        ).all()
        overflow = set()
        for row in tiers:
            values = dict(zip([d for d in dims if d in ALWAYS], row, strict=True))
            overflow.add(tuple(str(values[d]) if d in ALWAYS else OVERFLOW for d in dims))
        combos = kept + sorted(overflow)
    return Units(dims=dims, frame=_frame(dims, combos), kept=kept, groups=groups)


def _frame(dims: tuple[str, ...], combos: list[tuple[str, ...]]) -> pd.DataFrame:
    """Units as a segments frame: index unit id, every dimension ('' outside ``dims``)."""
    return pd.DataFrame(
        {d: [c[dims.index(d)] if d in dims else "" for c in combos] for d in SEGMENT_DIMENSIONS},
        index=pd.RangeIndex(len(combos), name="id"),
        columns=list(SEGMENT_DIMENSIONS),
    )


def read_unit_aggregates(
    conn: Connection,
    units: Units,
    *,
    start: int,
    end: int,
    fleet: str | None,
    watermark: int | None,
) -> Aggregates:
    """Rollups over ``[start, end)`` added up per unit in SQL; labels are unit ids."""
    position = {
        tuple(row): i for i, row in enumerate(units.frame[list(units.dims)].itertuples(index=False))
    }
    parts = []
    for table, lo, hi in plan(start, end, watermark):
        time = table.c.hour if table is HOURLY_ROLLUPS else table.c.minute
        labelled = (
            select(
                *_unit_columns(units),
                *(table.c[c] for c in SUM_COLUMNS),
                table.c.latency_hist,
                table.c.confidence_hist,
            )
            .join(SEGMENTS, SEGMENTS.c.id == table.c.segment_id)
            .where(time >= lo, time < hi, table.c.shadow.is_(False))
        )
        if fleet is not None:
            labelled = labelled.where(SEGMENTS.c.fleet == fleet)
        inner = labelled.subquery()
        keys = [inner.c[f"u_{d}"] for d in units.dims]
        query = select(
            *keys,
            *(cast(func.sum(inner.c[c]), Float) for c in SUM_COLUMNS),
            hist_concat(conn, inner.c.latency_hist),
            hist_concat(conn, inner.c.confidence_hist),
        ).group_by(*keys)
        width = len(units.dims)
        rows = []
        for row in conn.execute(query):
            unit = position.get(tuple(str(v) for v in row[:width]))
            if unit is not None:
                rows.append((unit, *row[width:]))
        rows.sort(key=lambda r: r[0])
        parts.append(to_aggregates(rows))
    return aggregates.combine(parts)


def read_unit_periods(
    conn: Connection,
    units: Units,
    spans: Sequence[tuple[int, int]],
    *,
    fleet: str | None,
    watermark: int | None,
    workers: int | None = None,
) -> list[Aggregates]:
    """:func:`read_unit_aggregates` for each ``(start, end)`` of ``spans``, in that order.

    Summing a period is the database's work (tens of column sums per rollup row),
    and both SQLite and PostgreSQL do it without holding Python's lock, so the
    periods are read on up to ``workers`` connections at once (``None``: one per
    core, up to four). A database only one connection can see (SQLite in memory)
    is read in turn on ``conn``.
    """
    workers = workers or min(4, os.cpu_count() or 1)
    if workers <= 1 or len(spans) <= 1 or not _opens_more(conn):
        return [
            read_unit_aggregates(conn, units, start=lo, end=hi, fleet=fleet, watermark=watermark)
            for lo, hi in spans
        ]
    engine = conn.engine

    def one(span: tuple[int, int]) -> Aggregates:
        with engine.connect() as other:
            return read_unit_aggregates(
                other, units, start=span[0], end=span[1], fleet=fleet, watermark=watermark
            )

    with ThreadPoolExecutor(min(workers, len(spans)), thread_name_prefix="units") as pool:
        return list(pool.map(one, spans))


def _opens_more(conn: Connection) -> bool:
    """Whether other connections of ``conn``'s engine see the same database."""
    return not isinstance(conn.engine.pool, StaticPool | SingletonThreadPool)


def _unit_columns(units: Units) -> list[ColumnElement[Any]]:
    """Each unit dimension's value, or the overflow value outside the kept groups."""
    cols = [SEGMENTS.c[d] for d in units.dims]
    if units.kept is None:
        return [c.label(f"u_{d}") for d, c in zip(units.dims, cols, strict=True)]
    kept = (
        tuple_(*cols).in_(units.kept) if len(cols) > 1 else cols[0].in_([k[0] for k in units.kept])
    )
    return [
        (c if d in ALWAYS else case((kept, c), else_=literal(OVERFLOW))).label(f"u_{d}")
        for d, c in zip(units.dims, cols, strict=True)
    ]
