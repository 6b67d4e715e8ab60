"""Turn decoded OTLP spans into attempt rows: validate, drop what must not be stored.

One pass over an ``ExportTraceServiceRequest``. Spans named ``hybrid.inference``
become :class:`AttemptRow` values when they keep the telemetry contract and are
rejected with a reason when they break it; other spans are only counted. Every
attribute that is neither in the contract nor in the operator's allow-list is
dropped here, before anything reaches the store, and counted by key.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.schema import TIERS

INFERENCE_SPAN = "hybrid.inference"
STATUS_CODE_ERROR = 2
MAX_STRING = 256

#: Resource attribute key -> attempt column.
RESOURCE_ATTRIBUTES = {
    "service.name": "service_name",
    "service.version": "app_version",
    "device.id": "device_id",
    "device.model.identifier": "device_model",
    "os.name": "os_name",
    "os.version": "os_version",
    "hybrid.region": "region",
    "hybrid.node": "node",
    "hybrid.fleet": "fleet",
    "deployment.environment.name": "environment",
}

#: Span attribute key -> (attempt column, expected type).
SPAN_ATTRIBUTES: dict[str, tuple[str, type]] = {
    "hybrid.tier": ("tier", str),
    "hybrid.task": ("task", str),
    "hybrid.model.name": ("model", str),
    "gen_ai.request.model": ("gen_ai_model", str),
    "hybrid.model.version": ("model_version", str),
    "hybrid.attempt": ("attempt", int),
    "hybrid.route.reason": ("route_reason", str),
    "hybrid.fallback": ("fallback", bool),
    "hybrid.fallback.reason": ("fallback_reason", str),
    "hybrid.confidence": ("confidence", float),
    "hybrid.quality": ("quality", float),
    "hybrid.shadow": ("shadow", bool),
    "hybrid.privacy": ("privacy", str),
    "hybrid.network": ("network", str),
    "hybrid.energy_mj": ("energy_mj", float),
    "hybrid.thermal": ("thermal", str),
    "hybrid.quantization": ("quantization", str),
    "gen_ai.usage.input_tokens": ("input_tokens", int),
    "gen_ai.usage.output_tokens": ("output_tokens", int),
    "error.type": ("error_type", str),
}

#: The AnyValue field that carries each contract type without conversion.
_NATIVE = {str: "string_value", int: "int_value", float: "double_value", bool: "bool_value"}
#: Span attribute key -> (column, type, AnyValue field): the hot loop's lookup table.
_SPAN_LOOKUP = {
    key: (column, kind, _NATIVE[kind]) for key, (column, kind) in SPAN_ATTRIBUTES.items()
}

_UNSET = object()
_ZERO_TRACE_ID = bytes(16)
_ZERO_SPAN_ID = bytes(8)
#: Every span attribute column, unset: copied per span, then filled in.
_NO_VALUES: dict[str, Any] = dict.fromkeys(column for column, _ in SPAN_ATTRIBUTES.values())


@dataclass(slots=True)
class AttemptRow:
    """One valid ``hybrid.inference`` span, normalised to the attempt columns."""

    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes | None
    start_time_unix_nano: int
    latency_ms: float
    fleet: str
    tier: str
    task: str
    model: str | None
    model_version: str | None
    attempt: int | None
    route_reason: str | None
    fallback: bool
    fallback_reason: str | None
    confidence: float | None
    quality: float | None
    shadow: bool
    privacy: str | None
    privacy_violation: bool
    network: str | None
    energy_mj: float | None
    thermal: str | None
    quantization: str | None
    input_tokens: int | None
    output_tokens: int | None
    error: bool
    error_type: str | None
    service_name: str | None
    app_version: str | None
    device_id: str | None
    device_model: str | None
    os_name: str | None
    os_version: str | None
    region: str | None
    node: str | None
    environment: str | None
    extra: str | None


@dataclass
class FleetCounts:
    """What one fleet's spans in an export request came to."""

    spans_received: int = 0
    other_spans: int = 0
    rejected: int = 0
    dropped_attributes: int = 0


@dataclass
class Batch:
    """What one export request held, after validation."""

    attempts: list[AttemptRow] = field(default_factory=list)
    spans_received: int = 0
    other_spans: int = 0
    #: reason -> (count, hex span id of the first span rejected for it)
    rejections: dict[str, list[Any]] = field(default_factory=dict)
    #: (fleet, attribute key) -> times dropped
    dropped: Counter[tuple[str, str]] = field(default_factory=Counter)
    fleets: dict[str, FleetCounts] = field(default_factory=dict)

    @property
    def rejected(self) -> int:
        return sum(count for count, _ in self.rejections.values())

    @property
    def dropped_attributes(self) -> int:
        return sum(self.dropped.values())

    def reject(self, reason: str, span_id: bytes) -> None:
        entry = self.rejections.get(reason)
        if entry is None:
            self.rejections[reason] = [1, span_id.hex()]
        else:
            entry[0] += 1

    def rejection_message(self) -> str:
        """A message naming each reason, how many spans it rejected and the first one."""
        if not self.rejections:
            return ""
        parts = [
            f"{reason} ({count} span{'s' if count != 1 else ''}, first span_id {first or '-'})"
            for reason, (count, first) in self.rejections.items()
        ]
        return f"rejected {self.rejected} of {self.spans_received} spans: " + "; ".join(parts)


class _Invalid(Exception):
    """A span breaks the telemetry contract; the message says how."""


def _value(any_value: Any) -> Any:
    """The Python value of an OTLP AnyValue; arrays, maps and bytes come back as-is."""
    kind = any_value.WhichOneof("value")
    if kind == "string_value":
        return any_value.string_value
    if kind == "int_value":
        return any_value.int_value
    if kind == "double_value":
        return any_value.double_value
    if kind == "bool_value":
        return any_value.bool_value
    if kind is None:
        return None
    return _UNSET


def _coerce(key: str, value: Any, kind: type) -> Any:
    """Coerce an attribute value to the contract's type or raise :class:`_Invalid`."""
    if value is None:
        return None
    if kind is str:
        if isinstance(value, str):
            return value[:MAX_STRING]
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
    elif kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
            if math.isfinite(number):
                return number
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
    elif kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
    raise _Invalid(f"{key} must be {_TYPE_NAMES[kind]}")


_TYPE_NAMES = {str: "a string", float: "a finite number", int: "an integer", bool: "a boolean"}


class Normaliser:
    """Validates and normalises spans with the operator's allow-list and privacy policy."""

    def __init__(
        self,
        *,
        allowlist: Iterable[str] = (),
        sensitive_allowed_tiers: Any = None,
        max_future_skew_seconds: int = 600,
    ) -> None:
        self.allowlist = frozenset(allowlist)
        # fleet -> allowed tiers; a callable so that per-fleet policies stay in settings.
        self._allowed_tiers = sensitive_allowed_tiers or (lambda fleet: frozenset({"device"}))
        self.max_future_skew_ns = max_future_skew_seconds * 1_000_000_000

    def normalise(
        self, request: ExportTraceServiceRequest, *, fleet: str | None, now_ns: int
    ) -> Batch:
        """Normalise every span; ``fleet`` (from the token) overrides the payload's."""
        batch = Batch()
        dropped = batch.dropped
        allowlist = self.allowlist
        latest_start = now_ns + self.max_future_skew_ns
        for resource_spans in request.resource_spans:
            resource: dict[str, Any] = dict.fromkeys(RESOURCE_ATTRIBUTES.values())
            resource_extra: dict[str, Any] = {}
            resource_dropped: list[str] = []
            for kv in resource_spans.resource.attributes:
                column = RESOURCE_ATTRIBUTES.get(kv.key)
                if column is not None:
                    value = _value(kv.value)
                    if isinstance(value, str | int | float) and not isinstance(value, bool):
                        resource[column] = str(value)[:MAX_STRING]
                    else:
                        resource_dropped.append(kv.key)
                elif kv.key in allowlist:
                    resource_extra[kv.key] = _json_value(kv.value)
                else:
                    resource_dropped.append(kv.key)
            span_fleet = fleet or resource["fleet"] or "default"
            resource["fleet"] = span_fleet
            counts = batch.fleets.get(span_fleet)
            if counts is None:
                counts = batch.fleets[span_fleet] = FleetCounts()
            span_dropped: Counter[str] = Counter(resource_dropped)
            allowed_tiers = self._allowed_tiers(span_fleet)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    counts.spans_received += 1
                    if span.name != INFERENCE_SPAN:
                        counts.other_spans += 1
                        continue
                    try:
                        row = self._attempt(
                            span,
                            resource,
                            resource_extra,
                            span_fleet,
                            allowed_tiers,
                            latest_start,
                            span_dropped,
                        )
                    except _Invalid as exc:
                        counts.rejected += 1
                        batch.reject(str(exc), span.span_id)
                        continue
                    batch.attempts.append(row)
            for key, count in span_dropped.items():
                dropped[(span_fleet, key)] += count
                counts.dropped_attributes += count
        for counts in batch.fleets.values():
            batch.spans_received += counts.spans_received
            batch.other_spans += counts.other_spans
        return batch

    def _attempt(
        self,
        span: Any,
        resource: dict[str, Any],
        resource_extra: dict[str, Any],
        fleet: str,
        allowed_tiers: frozenset[str],
        latest_start: int,
        dropped: Counter[str],
    ) -> AttemptRow:
        trace_id = span.trace_id
        span_id = span.span_id
        if len(trace_id) != 16 or trace_id == _ZERO_TRACE_ID:
            raise _Invalid("invalid trace_id (must be 16 bytes, not all zero)")
        if len(span_id) != 8 or span_id == _ZERO_SPAN_ID:
            raise _Invalid("invalid span_id (must be 8 bytes, not all zero)")
        values = _NO_VALUES.copy()
        extra: dict[str, Any] = {}
        for kv in span.attributes:
            key = kv.key
            spec = _SPAN_LOOKUP.get(key)
            if spec is not None:
                column, kind, native = spec
                any_value = kv.value
                if any_value.WhichOneof("value") == native:
                    # The common case: the sender used the contract's type.
                    value = getattr(any_value, native)
                    if kind is str:
                        value = value[:MAX_STRING]
                    elif kind is float and not math.isfinite(value):
                        raise _Invalid(f"{key} must be {_TYPE_NAMES[kind]}")
                    values[column] = value
                    continue
                value = _value(any_value)
                if value is _UNSET:
                    raise _Invalid(f"{key} must be {_TYPE_NAMES[kind]}")
                values[column] = _coerce(key, value, kind)
            elif key in self.allowlist:
                extra[key] = _json_value(kv.value)
            else:
                dropped[key] += 1
        if span.events:
            for event in span.events:
                dropped["(span event)"] += 1
                for kv in event.attributes:
                    dropped[kv.key] += 1
        if span.links:
            for link in span.links:
                for kv in link.attributes:
                    dropped[kv.key] += 1

        tier = values["tier"]
        if not tier:
            raise _Invalid("missing hybrid.tier")
        if tier not in TIERS:
            raise _Invalid("unknown hybrid.tier (must be device, edge or cloud)")
        task = values["task"]
        if not task:
            raise _Invalid("missing hybrid.task")
        start = span.start_time_unix_nano
        end = span.end_time_unix_nano
        if start == 0 or end == 0:
            raise _Invalid("missing start or end time")
        if end < start:
            raise _Invalid("negative duration (end before start)")
        if start > latest_start:
            raise _Invalid("timestamp in the future")
        confidence = values["confidence"]
        if confidence is not None and not 0.0 <= confidence <= 1.0:
            raise _Invalid("hybrid.confidence outside 0..1")
        quality = values["quality"]
        if quality is not None and not 0.0 <= quality <= 1.0:
            raise _Invalid("hybrid.quality outside 0..1")
        energy = values["energy_mj"]
        if energy is not None and energy < 0:
            raise _Invalid("negative hybrid.energy_mj")
        attempt = values["attempt"]
        if attempt is not None and attempt < 1:
            raise _Invalid("hybrid.attempt must be 1 or more")
        input_tokens = values["input_tokens"]
        if input_tokens is not None and input_tokens < 0:
            raise _Invalid("negative gen_ai.usage.input_tokens")
        output_tokens = values["output_tokens"]
        if output_tokens is not None and output_tokens < 0:
            raise _Invalid("negative gen_ai.usage.output_tokens")

        privacy = values["privacy"]
        # The contract marks failures with status ERROR; error.type alone also means failed.
        error_type = values["error_type"]
        error = span.status.code == STATUS_CODE_ERROR or bool(error_type)
        if extra or resource_extra:
            extra = {**resource_extra, **extra}
        # Positional, in field order: this runs once per span.
        return AttemptRow(
            trace_id,
            span_id,
            span.parent_span_id or None,
            start,
            (end - start) / 1e6,
            fleet,
            tier,
            task,
            values["model"] or values["gen_ai_model"],
            values["model_version"],
            attempt,
            values["route_reason"],
            bool(values["fallback"]),
            values["fallback_reason"],
            confidence,
            quality,
            bool(values["shadow"]),
            privacy,
            privacy == "sensitive" and tier not in allowed_tiers,
            values["network"],
            energy,
            values["thermal"],
            values["quantization"],
            input_tokens,
            output_tokens,
            error,
            error_type,
            resource["service_name"],
            resource["app_version"],
            resource["device_id"],
            resource["device_model"],
            resource["os_name"],
            resource["os_version"],
            resource["region"],
            resource["node"],
            resource["environment"],
            json.dumps(extra, sort_keys=True) if extra else None,
        )


def _json_value(any_value: Any) -> Any:
    """An allow-listed attribute value in a form JSON can hold."""
    value = _value(any_value)
    if value is _UNSET:
        kind = any_value.WhichOneof("value")
        if kind == "array_value":
            return [_json_value(v) for v in any_value.array_value.values]
        if kind == "kvlist_value":
            return {kv.key: _json_value(kv.value) for kv in any_value.kvlist_value.values}
        return any_value.bytes_value.hex()
    return value
