"""Builders for OTLP export requests, written from the OTLP specification."""

from __future__ import annotations

import time
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

NOW_NS = time.time_ns()


def any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    return AnyValue(string_value=str(value))


def attributes(values: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=any_value(v)) for k, v in values.items()]


def span(
    n: int,
    *,
    attrs: dict[str, Any] | None = None,
    name: str = "hybrid.inference",
    start_ns: int | None = None,
    latency_ms: float = 10.0,
    error: bool = False,
    trace: int | None = None,
) -> Span:
    """A span with ids derived from ``n`` (trace ``trace`` or ``n``), starting at ``start_ns``."""
    start = start_ns if start_ns is not None else NOW_NS - 60_000_000_000
    base = {"hybrid.tier": "device", "hybrid.task": "photo-tag"}
    return Span(
        trace_id=(trace if trace is not None else n).to_bytes(16, "big") or b"",
        span_id=(n + 1).to_bytes(8, "big"),
        name=name,
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=start,
        end_time_unix_nano=start + int(latency_ms * 1_000_000),
        attributes=attributes({**base, **(attrs or {})}),
        status=Status(code=Status.STATUS_CODE_ERROR if error else Status.STATUS_CODE_UNSET),
    )


def request(spans: list[Span], resource: dict[str, Any] | None = None) -> ExportTraceServiceRequest:
    """One resource holding ``spans``."""
    res = {"service.name": "camera-app", "device.id": "dev-1", **(resource or {})}
    rs = ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])
    rs.resource.attributes.extend(attributes(res))
    return ExportTraceServiceRequest(resource_spans=[rs])
