"""Request rollup rows written straight into a store, for the objectives' reader."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, insert, select

from collector import buckets
from collector.schema import REQUEST_ROLLUPS, SEGMENT_DIMENSIONS, SEGMENTS


def segment(conn: Connection, *, fleet: str, task: str, tier: str = "device") -> int:
    """The id of a new segment of ``fleet`` and ``task`` (other dimensions fixed)."""
    values = {d: "x" for d in SEGMENT_DIMENSIONS} | {"fleet": fleet, "task": task, "tier": tier}
    conn.execute(insert(SEGMENTS).values(**values))
    return int(conn.execute(select(SEGMENTS.c.id).filter_by(**values)).scalar_one())


def minute(
    conn: Connection,
    segment_id: int,
    at: int,
    *,
    requests: int,
    latencies: Sequence[float] = (),
    qualities: Sequence[float] = (),
) -> None:
    """One request rollup row: ``requests`` of which ``len(latencies)`` were answered."""
    histogram: dict[int, int] = {}
    for latency in latencies:
        bucket = buckets.latency_bucket(latency)
        histogram[bucket] = histogram.get(bucket, 0) + 1
    answered = len(latencies)
    conn.execute(
        insert(REQUEST_ROLLUPS).values(
            segment_id=segment_id,
            minute=at,
            requests=requests,
            answered=answered,
            failed=requests - answered,
            escalated=0,
            served_device=answered,
            served_edge=0,
            served_cloud=0,
            attempts_sum=requests,
            tiers_sum=requests,
            latency_ms_sum=float(sum(latencies)),
            latency_hist=buckets.encode(histogram),
            quality_count=len(qualities),
            quality_sum=float(sum(qualities)),
            quality_sq_sum=float(sum(q * q for q in qualities)),
            input_tokens_sum=0,
            output_tokens_sum=0,
        )
    )
