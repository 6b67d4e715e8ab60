"""What the store holds: attempts, requests and what the collector refused or dropped."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, func, select

from collector.cardinality import OVERFLOW
from collector.schema import DROPPED_ATTRIBUTES, INGEST_STATS, ROLLUPS, SEGMENTS, VALUE_OVERFLOW

#: (fleet, dimension) -> the fleet's limit of distinct values of the dimension.
Limit = Callable[[str, str], int]

_STAT_FIELDS = ("spans_received", "rejected", "duplicates", "other_spans", "dropped_attributes")


def read_folded(conn: Connection, *, fleet: str | None = None) -> dict[str, dict[str, Any]]:
    """Per fleet, per dimension: attempts and distinct values folded into the overflow value."""
    query = select(
        VALUE_OVERFLOW.c.fleet,
        VALUE_OVERFLOW.c.dimension,
        VALUE_OVERFLOW.c.attempts,
        VALUE_OVERFLOW.c.distinct_values,
    ).order_by(VALUE_OVERFLOW.c.fleet, VALUE_OVERFLOW.c.dimension)
    if fleet is not None:
        query = query.where(VALUE_OVERFLOW.c.fleet == fleet)
    out: dict[str, dict[str, Any]] = {}
    for name, dimension, attempts, values in conn.execute(query):
        out.setdefault(name, {})[dimension] = {
            "attempts": int(attempts),
            "distinct_values": int(values),
        }
    return out


def folded_warnings(folded: dict[str, dict[str, Any]], limit: Limit | None = None) -> list[str]:
    """One sentence per fleet and dimension that went over its limit, naming both."""
    out = []
    for name, dims in sorted(folded.items()):
        for dimension, counts in sorted(dims.items()):
            bound = f" {limit(name, dimension):,}" if limit is not None else ""
            values = counts["distinct_values"]
            out.append(
                f"fleet {name}: {dimension} reached its limit of{bound} distinct values; "
                f"{counts['attempts']:,} attempts with {values:,} other value"
                f"{'s' if values != 1 else ''} were stored as {OVERFLOW}"
            )
    return out


def summary(
    conn: Connection, *, fleet: str | None = None, limit: Limit | None = None
) -> dict[str, Any]:
    """Totals over all time, overall and per fleet; ``fleet`` limits them to one fleet.

    ``folded`` counts, per dimension, what the cardinality limits stored as the
    overflow value; ``warnings`` says it in words (``limit`` gives each fleet's limits).
    """
    rollups, segments = ROLLUPS, SEGMENTS
    stats, dropped = INGEST_STATS, DROPPED_ATTRIBUTES

    counts = (
        select(segments.c.fleet, func.sum(rollups.c.attempts), func.sum(rollups.c.requests))
        .join(segments, segments.c.id == rollups.c.segment_id)
        .group_by(segments.c.fleet)
    )
    received = select(stats.c.fleet, *(func.sum(stats.c[f]) for f in _STAT_FIELDS)).group_by(
        stats.c.fleet
    )
    keys = select(dropped.c.fleet, dropped.c.key, dropped.c.count)
    if fleet is not None:
        counts = counts.where(segments.c.fleet == fleet)
        received = received.where(stats.c.fleet == fleet)
        keys = keys.where(dropped.c.fleet == fleet)

    fleets: dict[str, dict[str, Any]] = {}

    def entry(name: str) -> dict[str, Any]:
        return fleets.setdefault(
            name,
            {
                "attempts": 0,
                "requests": 0,
                **dict.fromkeys(_STAT_FIELDS, 0),
                "dropped_by_key": {},
                "folded": {},
            },
        )

    for name, attempts, requests in conn.execute(counts):
        entry(name).update(attempts=int(attempts or 0), requests=int(requests or 0))
    for name, *sums in conn.execute(received):
        entry(name).update({f: int(v or 0) for f, v in zip(_STAT_FIELDS, sums, strict=True)})
    for name, key, count in conn.execute(keys):
        entry(name)["dropped_by_key"][key] = int(count)
    folded = read_folded(conn, fleet=fleet)
    for name, dims in folded.items():
        entry(name)["folded"] = {
            d: {**c, "limit": limit(name, d) if limit is not None else None}
            for d, c in dims.items()
        }

    total: dict[str, int] = {"attempts": 0, "requests": 0, **dict.fromkeys(_STAT_FIELDS, 0)}
    dropped_by_key: dict[str, int] = {}
    folded_total: dict[str, dict[str, int]] = {}
    for values in fleets.values():
        for dimension, counts in values["folded"].items():
            into = folded_total.setdefault(dimension, {"attempts": 0, "distinct_values": 0})
            into["attempts"] += counts["attempts"]
            into["distinct_values"] += counts["distinct_values"]
        for field in total:
            total[field] += values[field]
        for key, count in values["dropped_by_key"].items():
            dropped_by_key[key] = dropped_by_key.get(key, 0) + count
    return {
        **total,
        "dropped_by_key": dict(sorted(dropped_by_key.items())),
        "folded": dict(sorted(folded_total.items())),
        "warnings": folded_warnings(folded, limit),
        "fleets": dict(sorted(fleets.items())),
    }
