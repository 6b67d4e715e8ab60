"""Hand-written attempts for exact expectations, stored through the collector's real write path.

Values are chosen to be exact in binary floating point (whole milliseconds,
confidences and qualities that are multiples of 1/8), so sums come out the same
in whatever order the database adds them.
"""

from __future__ import annotations

import dataclasses
import itertools

from sqlalchemy import Engine

from collector.normalise import AttemptRow, Batch
from collector.store import Store

_IDS = itertools.count(1)

BASE = AttemptRow(
    trace_id=b"\0" * 16,
    span_id=b"\0" * 8,
    parent_span_id=None,
    start_time_unix_nano=0,
    latency_ms=100.0,
    fleet="fleet-a",
    tier="device",
    task="photo-tag",
    model="tagger",
    model_version="2.1.0",
    attempt=1,
    route_reason="policy",
    fallback=False,
    fallback_reason=None,
    confidence=0.75,
    quality=None,
    shadow=False,
    privacy="normal",
    privacy_violation=False,
    network="online",
    energy_mj=None,
    thermal="nominal",
    quantization="int8",
    input_tokens=None,
    output_tokens=None,
    error=False,
    error_type=None,
    service_name="app",
    app_version="5.0",
    device_id=None,
    device_model="pixel-7",
    os_name=None,
    os_version=None,
    region="eu",
    node=None,
    environment="test",
    extra=None,
)


def attempt(at: int, *, trace: bytes | None = None, **values: object) -> AttemptRow:
    """One attempt starting at Unix second ``at``; ``trace`` shares a trace id with others.

    Span ids are unique per call, so no two attempts are duplicates of each other.
    """
    n = next(_IDS)
    return dataclasses.replace(
        BASE,
        trace_id=trace if trace is not None else n.to_bytes(16, "big"),
        span_id=n.to_bytes(8, "big"),
        start_time_unix_nano=at * 1_000_000_000,
        **values,  # type: ignore[arg-type]
    )


def store(engine: Engine, rows: list[AttemptRow], *, received: int) -> None:
    """Write ``rows`` in one request, received at Unix second ``received``."""
    result = Store(engine).write(Batch(attempts=rows), received_ns=received * 1_000_000_000)
    assert (result.stored, result.duplicates) == (len(rows), 0)
