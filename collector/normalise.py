"""Turn decoded OTLP spans into attempt rows: validate, drop what must not be stored.

One pass over an ``ExportTraceServiceRequest``. Spans named ``hybrid.inference``
become :class:`AttemptRow` values when they keep the telemetry contract and are
rejected with a reason when they break it; other spans are only counted. Every
attribute that is neither in the contract nor in the operator's allow-list is
dropped here, before anything reaches the store, and counted by key.

What a resource gives all its spans is worked out once per ResourceSpans. The
contract's rules are the entries of :data:`IDENTITY_CHECKS` and
:data:`CONTRACT_CHECKS`, each a predicate, the reason code it counts under and the
rejection reason it reports.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.schema import TIERS

INFERENCE_SPAN = "hybrid.inference"
STATUS_CODE_ERROR = 2
MAX_STRING = 256
#: The rejection reason code of a contract attribute whose type cannot be coerced.
WRONG_TYPE = "wrong_type"

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

#: Resource attributes that OpenTelemetry SDKs (Python, Java, Swift, Android) and their
#: default detectors set on every sender, naming the SDK, the service instance or the
#: platform, never the user: accepted quietly, neither stored nor counted as dropped,
#: so that the dropped counts show what a sender should stop sending. The operator's
#: allow-list still keeps any of them. ``host.name``, ``process.command_line`` and the
#: like stay counted: they can name a person's device or hold a user's paths.
STANDARD_RESOURCE_ATTRIBUTES = frozenset(
    {
        "telemetry.sdk.name",
        "telemetry.sdk.language",
        "telemetry.sdk.version",
        "telemetry.auto.version",
        "telemetry.distro.name",
        "telemetry.distro.version",
        "service.instance.id",
        "service.namespace",
        "os.type",
        "os.description",
        "os.build_id",
        "process.runtime.name",
        "process.runtime.version",
        "process.runtime.description",
    }
)

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
#: A span's fields by attempt column (its ids, times and every contract attribute),
#: unset: copied per span, then filled in.
_NO_FIELDS: dict[str, Any] = dict.fromkeys(
    (
        "trace_id",
        "span_id",
        "start_time_unix_nano",
        "end_time_unix_nano",
        *(column for column, _ in SPAN_ATTRIBUTES.values()),
    )
)


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
    #: reason code -> spans rejected for it
    rejected_by_code: Counter[str] = field(default_factory=Counter)
    #: (fleet, attribute key) -> times dropped
    dropped: Counter[tuple[str, str]] = field(default_factory=Counter)
    fleets: dict[str, FleetCounts] = field(default_factory=dict)

    @property
    def rejected(self) -> int:
        return sum(count for count, _ in self.rejections.values())

    @property
    def dropped_attributes(self) -> int:
        return sum(self.dropped.values())

    def reject(self, reason: str, span_id: bytes, code: str) -> None:
        self.rejected_by_code[code] += 1
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
    """A span breaks the telemetry contract; the message says how, ``code`` which rule."""

    def __init__(self, message: str, code: str = WRONG_TYPE) -> None:
        super().__init__(message)
        self.code = code


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


class _ResourceColumns(NamedTuple):
    """The attempt columns a resource gives each of its spans, in :class:`AttemptRow` order."""

    service_name: str | None
    app_version: str | None
    device_id: str | None
    device_model: str | None
    os_name: str | None
    os_version: str | None
    region: str | None
    node: str | None
    environment: str | None


@dataclass(slots=True)
class _Resource:
    """What the spans of one ResourceSpans share, worked out once for all of them."""

    #: Unpacked into each row: these are the fields just before ``extra``.
    columns: _ResourceColumns
    #: Allow-listed resource attributes, kept in every attempt's ``extra``.
    extra: dict[str, Any]
    #: The token's fleet, else the payload's ``hybrid.fleet``, else ``default``.
    fleet: str
    #: The tiers the fleet's privacy policy allows for sensitive data.
    allowed_tiers: frozenset[str]
    #: The latest start time accepted: the collector's clock plus the allowed skew.
    latest_start: int
    #: Attribute key -> times dropped, from the resource and its spans.
    dropped: Counter[str]


#: A rule of the telemetry contract: true when a span's fields, in their resource, break it.
Check = Callable[[dict[str, Any], _Resource], bool]


def _outside(column: str, lowest: float, highest: float = math.inf) -> Check:
    """A check that ``column``, when set, lies within ``lowest..highest``."""

    def check(fields: dict[str, Any], resource: _Resource) -> bool:
        value = fields[column]
        return value is not None and not lowest <= value <= highest

    return check


#: Identity rules, checked before the attributes are read: a span that breaks one
#: has none of its attributes read, so none is counted as dropped.
IDENTITY_CHECKS: tuple[tuple[Check, str, str], ...] = (
    (
        lambda fields, _: len(fields["trace_id"]) != 16 or fields["trace_id"] == _ZERO_TRACE_ID,
        "invalid_trace_id",
        "invalid trace_id (must be 16 bytes, not all zero)",
    ),
    (
        lambda fields, _: len(fields["span_id"]) != 8 or fields["span_id"] == _ZERO_SPAN_ID,
        "invalid_span_id",
        "invalid span_id (must be 8 bytes, not all zero)",
    ),
)

#: The rest of the contract, on typed attributes. A span is rejected with the reason
#: of the first rule it breaks, in this order.
CONTRACT_CHECKS: tuple[tuple[Check, str, str], ...] = (
    (lambda fields, _: not fields["tier"], "missing_tier", "missing hybrid.tier"),
    (
        lambda fields, _: fields["tier"] not in TIERS,
        "unknown_tier",
        "unknown hybrid.tier (must be device, edge or cloud)",
    ),
    (lambda fields, _: not fields["task"], "missing_task", "missing hybrid.task"),
    (
        lambda fields, _: fields["start_time_unix_nano"] == 0 or fields["end_time_unix_nano"] == 0,
        "missing_time",
        "missing start or end time",
    ),
    (
        lambda fields, _: fields["end_time_unix_nano"] < fields["start_time_unix_nano"],
        "negative_duration",
        "negative duration (end before start)",
    ),
    (
        lambda fields, resource: fields["start_time_unix_nano"] > resource.latest_start,
        "future_timestamp",
        "timestamp in the future",
    ),
    (_outside("confidence", 0.0, 1.0), "confidence_range", "hybrid.confidence outside 0..1"),
    (_outside("quality", 0.0, 1.0), "quality_range", "hybrid.quality outside 0..1"),
    (_outside("energy_mj", 0.0), "negative_energy", "negative hybrid.energy_mj"),
    (_outside("attempt", 1), "attempt_range", "hybrid.attempt must be 1 or more"),
    (_outside("input_tokens", 0), "negative_tokens", "negative gen_ai.usage.input_tokens"),
    (_outside("output_tokens", 0), "negative_tokens", "negative gen_ai.usage.output_tokens"),
)

#: Every rejection reason code, for the rejected-span metric: the checks' codes and
#: ``wrong_type`` (a contract attribute of the wrong type).
REJECTION_REASONS: tuple[str, ...] = tuple(
    dict.fromkeys([code for _, code, _ in IDENTITY_CHECKS + CONTRACT_CHECKS] + [WRONG_TYPE])
)


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
        latest_start = now_ns + self.max_future_skew_ns
        for resource_spans in request.resource_spans:
            resource = self._resource(resource_spans.resource, fleet, latest_start)
            counts = batch.fleets.get(resource.fleet)
            if counts is None:
                counts = batch.fleets[resource.fleet] = FleetCounts()
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    counts.spans_received += 1
                    if span.name != INFERENCE_SPAN:
                        counts.other_spans += 1
                        continue
                    try:
                        row = self._attempt(span, resource)
                    except _Invalid as exc:
                        counts.rejected += 1
                        batch.reject(str(exc), span.span_id, exc.code)
                        continue
                    batch.attempts.append(row)
            for key, count in resource.dropped.items():
                batch.dropped[(resource.fleet, key)] += count
                counts.dropped_attributes += count
        for counts in batch.fleets.values():
            batch.spans_received += counts.spans_received
            batch.other_spans += counts.other_spans
        return batch

    def _resource(self, otlp_resource: Any, fleet: str | None, latest_start: int) -> _Resource:
        """The context of one ResourceSpans' spans; ``fleet`` (the token's) wins."""
        columns: dict[str, Any] = dict.fromkeys(RESOURCE_ATTRIBUTES.values())
        extra: dict[str, Any] = {}
        dropped: Counter[str] = Counter()
        for kv in otlp_resource.attributes:
            column = RESOURCE_ATTRIBUTES.get(kv.key)
            if column is not None:
                value = _value(kv.value)
                if isinstance(value, str | int | float) and not isinstance(value, bool):
                    columns[column] = str(value)[:MAX_STRING]
                else:
                    dropped[kv.key] += 1
            elif kv.key in self.allowlist:
                extra[kv.key] = _json_value(kv.value)
            elif kv.key not in STANDARD_RESOURCE_ATTRIBUTES:
                dropped[kv.key] += 1
        payload_fleet = columns.pop("fleet")
        span_fleet = fleet or payload_fleet or "default"
        return _Resource(
            columns=_ResourceColumns(**columns),
            extra=extra,
            fleet=span_fleet,
            allowed_tiers=self._allowed_tiers(span_fleet),
            latest_start=latest_start,
            dropped=dropped,
        )

    def _attempt(self, span: Any, resource: _Resource) -> AttemptRow:
        """The attempt row of one ``hybrid.inference`` span, or :class:`_Invalid`."""
        fields = _NO_FIELDS.copy()
        fields["trace_id"] = span.trace_id
        fields["span_id"] = span.span_id
        fields["start_time_unix_nano"] = span.start_time_unix_nano
        fields["end_time_unix_nano"] = span.end_time_unix_nano
        for identity_breaks, code, reason in IDENTITY_CHECKS:
            if identity_breaks(fields, resource):
                raise _Invalid(reason, code)
        dropped = resource.dropped
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
                    fields[column] = value
                    continue
                value = _value(any_value)
                if value is _UNSET:
                    raise _Invalid(f"{key} must be {_TYPE_NAMES[kind]}")
                fields[column] = _coerce(key, value, kind)
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
        for contract_breaks, code, reason in CONTRACT_CHECKS:
            if contract_breaks(fields, resource):
                raise _Invalid(reason, code)

        tier = fields["tier"]
        privacy = fields["privacy"]
        start = fields["start_time_unix_nano"]
        # The contract marks failures with status ERROR; error.type alone also means failed.
        error_type = fields["error_type"]
        error = span.status.code == STATUS_CODE_ERROR or bool(error_type)
        if extra or resource.extra:
            extra = {**resource.extra, **extra}
        # Positional, in field order: this runs once per span.
        return AttemptRow(
            fields["trace_id"],
            fields["span_id"],
            span.parent_span_id or None,
            start,
            (fields["end_time_unix_nano"] - start) / 1e6,
            resource.fleet,
            tier,
            fields["task"],
            fields["model"] or fields["gen_ai_model"],
            fields["model_version"],
            fields["attempt"],
            fields["route_reason"],
            bool(fields["fallback"]),
            fields["fallback_reason"],
            fields["confidence"],
            fields["quality"],
            bool(fields["shadow"]),
            privacy,
            privacy == "sensitive" and tier not in resource.allowed_tiers,
            fields["network"],
            fields["energy_mj"],
            fields["thermal"],
            fields["quantization"],
            fields["input_tokens"],
            fields["output_tokens"],
            error,
            error_type,
            *resource.columns,
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
