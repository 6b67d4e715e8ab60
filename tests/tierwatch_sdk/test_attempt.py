"""The attempt context manager and record_attempt: exact spans in memory and in the store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode, Tracer
from sqlalchemy import Engine, select

from collector.schema import ATTEMPTS
from tests.conftest import LiveServer
from tierwatch_sdk import attempt, fleet_resource, record_attempt

T0 = (time.time_ns() // 60_000_000_000 - 5) * 60_000_000_000


@pytest.fixture
def memory() -> Iterator[tuple[Tracer, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("test"), exporter
    provider.shutdown()


def only(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = exporter.get_finished_spans()
    return span


def test_every_attribute_is_spelled_by_the_contract(
    memory: tuple[Tracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = memory
    with attempt(
        "device",
        "smart-reply",
        model="reply-lm-1b",
        version="1.2.0",
        number=1,
        route_reason="policy",
        privacy="normal",
        network="metered",
        thermal="fair",
        quantization="int4",
        tracer=tracer,
        start_time=T0,
    ) as a:
        a.confidence = 0.41
        a.quality = 0.5
        a.energy_mj = 812.5
        a.input_tokens = 96
        a.output_tokens = 23
        a.thermal = "serious"  # it got hotter while the model ran
        a.fall_back("low_confidence")
        a.end_time = T0 + 250_000_000
    span = only(exporter)
    assert span.name == "hybrid.inference"
    assert dict(span.attributes or {}) == {
        "hybrid.tier": "device",
        "hybrid.task": "smart-reply",
        "hybrid.model.name": "reply-lm-1b",
        "hybrid.model.version": "1.2.0",
        "hybrid.attempt": 1,
        "hybrid.route.reason": "policy",
        "hybrid.privacy": "normal",
        "hybrid.network": "metered",
        "hybrid.thermal": "serious",
        "hybrid.quantization": "int4",
        "hybrid.confidence": 0.41,
        "hybrid.quality": 0.5,
        "hybrid.energy_mj": 812.5,
        "gen_ai.usage.input_tokens": 96,
        "gen_ai.usage.output_tokens": 23,
        "hybrid.fallback": True,
        "hybrid.fallback.reason": "low_confidence",
    }
    assert (span.start_time, span.end_time) == (T0, T0 + 250_000_000)
    assert span.status.status_code is StatusCode.UNSET
    assert list(span.events) == []


def test_a_served_attempt_says_so_and_the_next_attempt_is_its_child(
    memory: tuple[Tracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = memory
    with attempt("device", "photo-tag", tracer=tracer) as first:
        first.fall_back("timeout")
    with attempt("cloud", "photo-tag", number=2, tracer=tracer, context=first.context) as second:
        second.confidence = 0.93
    with attempt("cloud", "photo-tag", number=3, shadow=True, tracer=tracer) as shadow:
        pass
    one, two, three = exporter.get_finished_spans()
    assert dict(two.attributes or {}) == {
        "hybrid.tier": "cloud",
        "hybrid.task": "photo-tag",
        "hybrid.attempt": 2,
        "hybrid.fallback": False,
        "hybrid.confidence": 0.93,
    }
    assert two.parent is not None and two.parent.span_id == one.context.span_id
    assert two.context.trace_id == one.context.trace_id
    assert three.parent is None  # no current span outside the blocks
    assert (three.attributes or {})["hybrid.shadow"] is True
    assert shadow.fallback_reason is None


def test_nested_work_inside_an_attempt_is_its_child(
    memory: tuple[Tracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = memory
    with attempt("edge", "voice-command", tracer=tracer):
        with tracer.start_as_current_span("decode-audio"):
            pass
        assert trace.get_current_span().is_recording()
    child, parent = exporter.get_finished_spans()
    assert child.parent is not None and child.parent.span_id == parent.context.span_id


@pytest.mark.parametrize(
    ("exception", "fallback_on_error", "error_type", "fallback_reason"),
    [
        # a time-out that the router turns into a fallback
        (TimeoutError(), True, "TimeoutError", "timeout"),
        # running out of memory on a small phone
        (MemoryError(), True, "MemoryError", "oom"),
        # any other failure, with the module in the error type
        (requests.ConnectionError(), True, "requests.exceptions.ConnectionError", "error"),
        # a failure the caller does not fall back from
        (RuntimeError("boom"), False, "RuntimeError", None),
    ],
)
def test_an_exception_marks_the_attempt_failed_and_is_reraised(
    memory: tuple[Tracer, InMemorySpanExporter],
    exception: Exception,
    fallback_on_error: bool,
    error_type: str,
    fallback_reason: str | None,
) -> None:
    tracer, exporter = memory
    with (
        pytest.raises(type(exception)),
        attempt("edge", "photo-tag", tracer=tracer, fallback_on_error=fallback_on_error),
    ):
        raise exception
    span = only(exporter)
    attributes = dict(span.attributes or {})
    assert span.status.status_code is StatusCode.ERROR
    assert attributes["error.type"] == error_type
    assert attributes["hybrid.fallback"] is (fallback_reason is not None)
    assert attributes.get("hybrid.fallback.reason") == fallback_reason
    assert list(span.events) == []  # exception messages may hold user data


def test_fail_without_an_exception(memory: tuple[Tracer, InMemorySpanExporter]) -> None:
    tracer, exporter = memory
    with attempt("edge", "photo-tag", tracer=tracer) as a:
        a.fail("503", fallback="error")
    span = only(exporter)
    assert span.status.status_code is StatusCode.ERROR
    attributes = span.attributes or {}
    assert (attributes["error.type"], attributes["hybrid.fallback.reason"]) == ("503", "error")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        # the tier must be one of the three
        (lambda: attempt("phone", "t"), "tier must be one of device, edge, cloud; got 'phone'"),
        # the task is required
        (lambda: attempt("edge", ""), "task must be a non-empty string; got ''"),
        # attempts count from 1
        (lambda: attempt("edge", "t", number=0), "number must be 1 or more; got 0"),
        # privacy has two values
        (
            lambda: attempt("edge", "t", privacy="secret"),
            "privacy must be one of sensitive, normal; got 'secret'",
        ),
        # route reasons are the contract's
        (
            lambda: attempt("edge", "t", route_reason="cost"),
            "route reason must be one of policy, privacy, offline, battery, thermal, load; "
            "got 'cost'",
        ),
        # record_attempt checks the outcome values too
        (
            lambda: record_attempt("cloud", "t", start_time=1, end_time=2, confidence=1.5),
            "confidence must be between 0 and 1; got 1.5",
        ),
        (
            lambda: record_attempt("cloud", "t", start_time=1, end_time=2, energy_mj=-1),
            "energy_mj must be 0 or more; got -1",
        ),
        (
            lambda: record_attempt("cloud", "t", start_time=1, end_time=2, output_tokens=2.5),
            "output_tokens must be a whole number, 0 or more; got 2.5",
        ),
        (
            lambda: record_attempt("cloud", "t", start_time=1, end_time=2, fallback_reason="meh"),
            "fallback reason must be one of low_confidence, error, timeout, offline, thermal, "
            "battery, oom; got 'meh'",
        ),
    ],
)
def test_values_outside_the_contract_are_refused_where_they_are_made(
    call: Any, message: str
) -> None:
    with pytest.raises(ValueError) as raised:
        manager = call()
        if hasattr(manager, "__enter__"):
            with manager:
                pass
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        # confidence is a fraction
        ("confidence", -0.1, "confidence must be between 0 and 1; got -0.1"),
        # so is quality
        ("quality", 2, "quality must be between 0 and 1; got 2"),
        # thermal states are the contract's
        ("thermal", "hot", "thermal must be one of nominal, fair, serious, critical; got 'hot'"),
        # token counts are whole
        ("input_tokens", -3, "input_tokens must be a whole number, 0 or more; got -3"),
    ],
)
def test_setters_check_values(
    memory: tuple[Tracer, InMemorySpanExporter], field: str, value: object, message: str
) -> None:
    tracer, _ = memory
    with attempt("device", "t", tracer=tracer) as a, pytest.raises(ValueError) as raised:
        setattr(a, field, value)
    assert str(raised.value) == message


def test_record_attempt_writes_a_finished_span_in_one_call(
    memory: tuple[Tracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = memory
    first = record_attempt(
        "edge",
        "photo-tag",
        start_time=T0,
        end_time=T0 + 40_000_000,
        model="tagger-base",
        version="1.4.0",
        error_type="503",
        fallback_reason="error",
        tracer=tracer,
    )
    record_attempt(
        "cloud",
        "photo-tag",
        start_time=T0 + 42_000_000,
        end_time=T0 + 90_000_000,
        number=2,
        confidence=0.95,
        tracer=tracer,
        context=trace.set_span_in_context(first),
    )
    one, two = exporter.get_finished_spans()
    assert dict(one.attributes or {}) == {
        "hybrid.tier": "edge",
        "hybrid.task": "photo-tag",
        "hybrid.attempt": 1,
        "hybrid.fallback": True,
        "hybrid.model.name": "tagger-base",
        "hybrid.model.version": "1.4.0",
        "hybrid.fallback.reason": "error",
        "error.type": "503",
    }
    assert one.status.status_code is StatusCode.ERROR
    assert (two.start_time, two.end_time) == (T0 + 42_000_000, T0 + 90_000_000)
    assert two.parent is not None and two.parent.span_id == one.context.span_id
    assert two.status.status_code is StatusCode.UNSET


def test_fleet_resource_names_the_sender() -> None:
    resource = fleet_resource(
        service_name="companion-app",
        service_version="4.2.0",
        fleet="phones",
        device_id="pixel-8-00af",
        device_model="pixel-8",
        os_name="Android",
        os_version="14",
        region="eu-west",
        environment="production",
    )
    attributes = dict(resource.attributes)
    sdk_own = ("telemetry.sdk.", "service.instance.id")  # added by every SDK resource
    assert {k: v for k, v in attributes.items() if not k.startswith(sdk_own)} == {
        "service.name": "companion-app",
        "service.version": "4.2.0",
        "hybrid.fleet": "phones",
        "device.id": "pixel-8-00af",
        "device.model.identifier": "pixel-8",
        "os.name": "Android",
        "os.version": "14",
        "hybrid.region": "eu-west",
        "deployment.environment.name": "production",
    }
    assert "hybrid.node" not in attributes


def test_attempts_reach_the_store_through_the_real_exporter(
    live_server: LiveServer, engine: Engine
) -> None:
    provider = TracerProvider(
        resource=fleet_resource(
            service_name="companion-app",
            service_version="4.2.0",
            fleet="phones",
            device_id="galaxy-a14-01",
            device_model="galaxy-a14",
            region="eu-central",
        )
    )
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{live_server.url}/v1/traces"))
    )
    tracer = provider.get_tracer("app")
    with attempt(
        "device",
        "photo-tag",
        model="tagger-mobile",
        version="3.2.0",
        privacy="sensitive",
        route_reason="privacy",
        tracer=tracer,
        start_time=T0,
    ) as first:
        first.confidence = 0.42
        first.energy_mj = 250.0
        first.fall_back("low_confidence")
        first.end_time = T0 + 120_000_000
    with attempt(
        "cloud",
        "photo-tag",
        number=2,
        privacy="sensitive",
        tracer=tracer,
        context=first.context,
        start_time=T0 + 125_000_000,
    ) as second:
        second.confidence = 0.97
        second.end_time = T0 + 300_000_000
    assert provider.force_flush(10_000)
    provider.shutdown()

    with engine.connect() as conn:
        rows = conn.execute(select(ATTEMPTS).order_by(ATTEMPTS.c.attempt)).mappings().all()
    picked = [
        {
            key: row[key]
            for key in (
                "tier",
                "attempt",
                "fallback",
                "fallback_reason",
                "confidence",
                "latency_ms",
                "privacy",
                "privacy_violation",
                "energy_mj",
                "device_model",
                "fleet",
            )
        }
        for row in rows
    ]
    assert picked == [
        {
            "tier": "device",
            "attempt": 1,
            "fallback": True,
            "fallback_reason": "low_confidence",
            "confidence": 0.42,
            "latency_ms": 120.0,
            "privacy": "sensitive",
            "privacy_violation": False,
            "energy_mj": 250.0,
            "device_model": "galaxy-a14",
            "fleet": "phones",
        },
        {
            "tier": "cloud",
            "attempt": 2,
            "fallback": False,
            "fallback_reason": None,
            "confidence": 0.97,
            "latency_ms": 175.0,
            "privacy": "sensitive",
            "privacy_violation": True,
            "energy_mj": None,
            "device_model": "galaxy-a14",
            "fleet": "phones",
        },
    ]
    assert rows[1]["parent_span_id"] == rows[0]["span_id"]
    summary = requests.get(f"{live_server.url}/api/v1/summary", timeout=5).json()
    assert (summary["attempts"], summary["requests"], summary["rejected"]) == (2, 1, 0)
