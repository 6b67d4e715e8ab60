"""What the store holds: attempts, requests and what the collector refused or dropped."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from collector.schema import DROPPED_ATTRIBUTES, INGEST_STATS, ROLLUPS, SEGMENTS

_STAT_FIELDS = ("spans_received", "rejected", "duplicates", "other_spans", "dropped_attributes")


def summary(conn: Connection, *, fleet: str | None = None) -> dict[str, Any]:
    """Totals over all time, overall and per fleet; ``fleet`` limits them to one fleet."""
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
            {"attempts": 0, "requests": 0, **dict.fromkeys(_STAT_FIELDS, 0), "dropped_by_key": {}},
        )

    for name, attempts, requests in conn.execute(counts):
        entry(name).update(attempts=int(attempts or 0), requests=int(requests or 0))
    for name, *sums in conn.execute(received):
        entry(name).update({f: int(v or 0) for f, v in zip(_STAT_FIELDS, sums, strict=True)})
    for name, key, count in conn.execute(keys):
        entry(name)["dropped_by_key"][key] = int(count)

    total: dict[str, int] = {"attempts": 0, "requests": 0, **dict.fromkeys(_STAT_FIELDS, 0)}
    dropped_by_key: dict[str, int] = {}
    for values in fleets.values():
        for field in total:
            total[field] += values[field]
        for key, count in values["dropped_by_key"].items():
            dropped_by_key[key] = dropped_by_key.get(key, 0) + count
    return {
        **total,
        "dropped_by_key": dict(sorted(dropped_by_key.items())),
        "fleets": dict(sorted(fleets.items())),
    }
