"""One attempt as a context manager: a ``hybrid.inference`` span with the contract's attributes.

The span starts when the block is entered and ends when it is left. What is
known up front (tier, task, model, privacy, ...) is given to :func:`attempt`;
what becomes known while the model runs (confidence, energy, tokens, a
fallback) is set on the :class:`Attempt` it yields. Values outside the
contract raise :class:`ValueError` at once, where the mistake is made, rather
than becoming a span the collector rejects later.

An exception that leaves the block marks the span failed (status ERROR and
``error.type`` = the exception's class) and is re-raised. Exceptions are not
recorded as span events: their messages may hold user data, and the collector
drops events anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar, overload

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, Status, StatusCode, Tracer

from tierwatch_sdk import attributes as keys

T = TypeVar("T")

_TRACER_NAME = "tierwatch_sdk"


def _one_of(allowed: tuple[str, ...]) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
        return str(value)

    return check


def _fraction(name: str, value: Any) -> float:
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1; got {value!r}")
    return number


def _non_negative_float(name: str, value: Any) -> float:
    number = float(value)
    if not number >= 0.0:
        raise ValueError(f"{name} must be 0 or more; got {value!r}")
    return number


def _non_negative_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or int(value) != value or value < 0:
        raise ValueError(f"{name} must be a whole number, 0 or more; got {value!r}")
    return int(value)


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string; got {value!r}")
    return value


_tier = _one_of(keys.TIERS)
_route_reason = _one_of(keys.ROUTE_REASONS)
_fallback_reason = _one_of(keys.FALLBACK_REASONS)
_privacy = _one_of(keys.PRIVACY_LEVELS)
_network = _one_of(keys.NETWORK_STATES)
_thermal = _one_of(keys.THERMAL_STATES)


class _Field(Generic[T]):
    """An attribute of the attempt's span, checked when set, written when the span ends."""

    def __init__(self, key: str, check: Callable[[str, Any], T]) -> None:
        self.key = key
        self.check = check
        self.name = key

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> _Field[T]: ...
    @overload
    def __get__(self, obj: Attempt, owner: type) -> T | None: ...
    def __get__(self, obj: Attempt | None, owner: type) -> _Field[T] | T | None:
        if obj is None:
            return self
        return obj.attributes.get(self.key)

    def __set__(self, obj: Attempt, value: T | None) -> None:
        if value is None:
            obj.attributes.pop(self.key, None)
        else:
            obj.attributes[self.key] = self.check(self.name, value)


class Attempt:
    """One attempt being recorded; set what becomes known while the model runs."""

    confidence = _Field(keys.CONFIDENCE, _fraction)
    quality = _Field(keys.QUALITY, _fraction)
    energy_mj = _Field(keys.ENERGY_MJ, _non_negative_float)
    input_tokens = _Field(keys.INPUT_TOKENS, _non_negative_int)
    output_tokens = _Field(keys.OUTPUT_TOKENS, _non_negative_int)
    network = _Field(keys.NETWORK, _network)
    thermal = _Field(keys.THERMAL, _thermal)

    def __init__(self, span: Span, attributes: dict[str, Any], *, fallback_on_error: bool) -> None:
        #: The underlying OpenTelemetry span.
        self.span = span
        #: The contract attributes written when the span ends.
        self.attributes = attributes
        #: When the attempt ended, in Unix nanoseconds; ``None`` means when the block is left.
        self.end_time: int | None = None
        self.fallback_on_error = fallback_on_error

    @property
    def context(self) -> Context:
        """A context whose current span is this attempt: the parent for the next attempt."""
        return trace.set_span_in_context(self.span)

    @property
    def fallback_reason(self) -> str | None:
        """Why this attempt's answer was not served, or ``None`` while it is served."""
        return self.attributes.get(keys.FALLBACK_REASON)

    def fall_back(self, reason: str) -> None:
        """Mark the answer as not served: the request moves on to another tier for ``reason``."""
        self.attributes[keys.FALLBACK_REASON] = _fallback_reason("fallback reason", reason)
        self.attributes[keys.FALLBACK] = True

    def fail(self, error_type: str, *, fallback: str | None = None) -> None:
        """Mark the attempt failed with ``error_type``; ``fallback`` also marks it a fallback."""
        self.attributes[keys.ERROR_TYPE] = _text("error type", error_type)
        if fallback is not None:
            self.fall_back(fallback)

    def _failed_with(self, exc: Exception) -> None:
        kind = type(exc)
        module = kind.__module__
        name = kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"
        if keys.ERROR_TYPE not in self.attributes:
            self.attributes[keys.ERROR_TYPE] = name
        if self.fallback_on_error and keys.FALLBACK_REASON not in self.attributes:
            if isinstance(exc, TimeoutError):
                self.fall_back("timeout")
            elif isinstance(exc, MemoryError):
                self.fall_back("oom")
            else:
                self.fall_back("error")

    def _finish(self) -> None:
        span = self.span
        if keys.ERROR_TYPE in self.attributes:
            span.set_status(Status(StatusCode.ERROR))
        span.set_attributes(self.attributes)
        span.end(end_time=self.end_time)


def _known_attributes(
    tier: str,
    task: str,
    *,
    model: str | None,
    version: str | None,
    number: int,
    route_reason: str | None,
    privacy: str | None,
    network: str | None,
    thermal: str | None,
    quantization: str | None,
    shadow: bool,
) -> dict[str, Any]:
    """The attributes known before the model runs, checked against the contract."""
    attributes: dict[str, Any] = {
        keys.TIER: _tier("tier", tier),
        keys.TASK: _text("task", task),
        keys.ATTEMPT: _positive(number),
        keys.FALLBACK: False,
    }
    if model is not None:
        attributes[keys.MODEL_NAME] = _text("model", model)
    if version is not None:
        attributes[keys.MODEL_VERSION] = _text("version", version)
    if route_reason is not None:
        attributes[keys.ROUTE_REASON] = _route_reason("route reason", route_reason)
    if privacy is not None:
        attributes[keys.PRIVACY] = _privacy("privacy", privacy)
    if network is not None:
        attributes[keys.NETWORK] = _network("network", network)
    if thermal is not None:
        attributes[keys.THERMAL] = _thermal("thermal", thermal)
    if quantization is not None:
        attributes[keys.QUANTIZATION] = _text("quantization", quantization)
    if shadow:
        attributes[keys.SHADOW] = True
    return attributes


@contextmanager
def attempt(
    tier: str,
    task: str,
    *,
    model: str | None = None,
    version: str | None = None,
    number: int = 1,
    route_reason: str | None = None,
    privacy: str | None = None,
    network: str | None = None,
    thermal: str | None = None,
    quantization: str | None = None,
    shadow: bool = False,
    fallback_on_error: bool = False,
    tracer: Tracer | None = None,
    context: Context | None = None,
    start_time: int | None = None,
) -> Iterator[Attempt]:
    """Record one attempt at ``tier`` for ``task`` as a ``hybrid.inference`` span.

    ``number`` is ``hybrid.attempt``: 1 for the first tier tried, 2 for the next.
    ``fallback_on_error`` marks an attempt that raised as a fallback (reason
    ``timeout`` for :class:`TimeoutError`, ``oom`` for :class:`MemoryError`,
    else ``error``), for routers that catch the exception and try the next tier.
    ``tracer`` defaults to the global provider's; ``context`` picks the parent
    (default: the current span); ``start_time`` (Unix ns) and
    :attr:`Attempt.end_time` replay attempts that already happened.
    """
    attributes = _known_attributes(
        tier,
        task,
        model=model,
        version=version,
        number=number,
        route_reason=route_reason,
        privacy=privacy,
        network=network,
        thermal=thermal,
        quantization=quantization,
        shadow=shadow,
    )
    tracer = tracer or trace.get_tracer(_TRACER_NAME)
    # What is known now goes in at the start, where samplers can see it.
    span = tracer.start_span(
        keys.INFERENCE_SPAN, context=context, attributes=attributes, start_time=start_time
    )
    recording = Attempt(span, dict(attributes), fallback_on_error=fallback_on_error)
    try:
        with trace.use_span(
            span, end_on_exit=False, record_exception=False, set_status_on_exception=False
        ):
            yield recording
    except Exception as exc:
        recording._failed_with(exc)
        raise
    finally:
        recording._finish()


def record_attempt(
    tier: str,
    task: str,
    *,
    start_time: int,
    end_time: int,
    model: str | None = None,
    version: str | None = None,
    number: int = 1,
    route_reason: str | None = None,
    privacy: str | None = None,
    network: str | None = None,
    thermal: str | None = None,
    quantization: str | None = None,
    shadow: bool = False,
    confidence: float | None = None,
    quality: float | None = None,
    energy_mj: float | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    fallback_reason: str | None = None,
    error_type: str | None = None,
    tracer: Tracer | None = None,
    context: Context | None = None,
) -> Span:
    """Record an attempt that has already ended, in one call; returns its (ended) span.

    For routers that time their attempts themselves, and for replaying attempts
    logged while no exporter was set up. The arguments mean what they mean for
    :func:`attempt` and :class:`Attempt`; ``error_type`` marks the attempt failed
    and ``fallback_reason`` marks it a fallback. The span does not become the
    current one; pass ``trace.set_span_in_context(span)`` as the next attempt's
    ``context`` to chain them.
    """
    attributes = _known_attributes(
        tier,
        task,
        model=model,
        version=version,
        number=number,
        route_reason=route_reason,
        privacy=privacy,
        network=network,
        thermal=thermal,
        quantization=quantization,
        shadow=shadow,
    )
    if confidence is not None:
        attributes[keys.CONFIDENCE] = _fraction("confidence", confidence)
    if quality is not None:
        attributes[keys.QUALITY] = _fraction("quality", quality)
    if energy_mj is not None:
        attributes[keys.ENERGY_MJ] = _non_negative_float("energy_mj", energy_mj)
    if input_tokens is not None:
        attributes[keys.INPUT_TOKENS] = _non_negative_int("input_tokens", input_tokens)
    if output_tokens is not None:
        attributes[keys.OUTPUT_TOKENS] = _non_negative_int("output_tokens", output_tokens)
    if fallback_reason is not None:
        attributes[keys.FALLBACK_REASON] = _fallback_reason("fallback reason", fallback_reason)
        attributes[keys.FALLBACK] = True
    if error_type is not None:
        attributes[keys.ERROR_TYPE] = _text("error type", error_type)
    tracer = tracer or trace.get_tracer(_TRACER_NAME)
    span = tracer.start_span(
        keys.INFERENCE_SPAN, context=context, attributes=attributes, start_time=start_time
    )
    if error_type is not None:
        span.set_status(Status(StatusCode.ERROR))
    span.end(end_time=end_time)
    return span


def _positive(number: int) -> int:
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise ValueError(f"number must be 1 or more; got {number!r}")
    return number
