"""Validation and normalisation of spans into attempt rows."""

from __future__ import annotations

from typing import Any

import pytest

from collector.normalise import Normaliser
from tests.otlp import NOW_NS, request, span


def normaliser(**kwargs: Any) -> Normaliser:
    return Normaliser(**kwargs)


@pytest.mark.parametrize(
    ("attrs", "kwargs", "reason"),
    [
        # the tier is required
        ({"hybrid.tier": ""}, {}, "missing hybrid.tier"),
        # only the three tiers exist
        ({"hybrid.tier": "moon"}, {}, "unknown hybrid.tier (must be device, edge or cloud)"),
        # the task is required
        ({"hybrid.task": ""}, {}, "missing hybrid.task"),
        # confidence is a probability
        ({"hybrid.confidence": 1.5}, {}, "hybrid.confidence outside 0..1"),
        ({"hybrid.confidence": -0.1}, {}, "hybrid.confidence outside 0..1"),
        # so is quality
        ({"hybrid.quality": 2.0}, {}, "hybrid.quality outside 0..1"),
        # types are checked
        ({"hybrid.confidence": "high"}, {}, "hybrid.confidence must be a finite number"),
        ({"hybrid.attempt": "second"}, {}, "hybrid.attempt must be an integer"),
        ({"hybrid.fallback": "maybe"}, {}, "hybrid.fallback must be a boolean"),
        ({"hybrid.attempt": 0}, {}, "hybrid.attempt must be 1 or more"),
        ({"hybrid.energy_mj": -3.0}, {}, "negative hybrid.energy_mj"),
        ({"gen_ai.usage.input_tokens": -1}, {}, "negative gen_ai.usage.input_tokens"),
        # end before start
        ({}, {"latency_ms": -5.0}, "negative duration (end before start)"),
        # more than ten minutes ahead of the collector's clock
        ({}, {"start_ns": NOW_NS + 11 * 60 * 1_000_000_000}, "timestamp in the future"),
    ],
)
def test_contract_violations_are_rejected_with_reason(
    attrs: dict[str, Any], kwargs: dict[str, Any], reason: str
) -> None:
    batch = normaliser().normalise(
        request([span(1, attrs=attrs, **kwargs)]), fleet=None, now_ns=NOW_NS
    )
    assert batch.attempts == []
    assert batch.rejected == 1
    assert batch.rejection_message() == (
        f"rejected 1 of 1 spans: {reason} (1 span, first span_id 0000000000000002)"
    )


def test_zero_ids_are_rejected() -> None:
    batch = normaliser().normalise(request([span(0)]), fleet=None, now_ns=NOW_NS)
    assert list(batch.rejections) == ["invalid trace_id (must be 16 bytes, not all zero)"]


@pytest.mark.parametrize(
    ("n", "attrs", "reason"),
    [
        # an invalid id is reported before any attribute is looked at
        (
            0,
            {"hybrid.tier": "moon", "hybrid.confidence": "high"},
            "invalid trace_id (must be 16 bytes, not all zero)",
        ),
        # a type error is found while the attributes are read, before the contract rules
        (
            1,
            {"hybrid.tier": "moon", "hybrid.confidence": "high"},
            "hybrid.confidence must be a finite number",
        ),
        # contract rules apply in table order: the tier before the task
        (
            1,
            {"hybrid.tier": "moon", "hybrid.task": ""},
            "unknown hybrid.tier (must be device, edge or cloud)",
        ),
        # and the task before the ranges
        (1, {"hybrid.task": "", "hybrid.quality": 2.0}, "missing hybrid.task"),
    ],
)
def test_a_span_is_rejected_for_the_first_rule_it_breaks(
    n: int, attrs: dict[str, Any], reason: str
) -> None:
    batch = normaliser().normalise(request([span(n, attrs=attrs)]), fleet=None, now_ns=NOW_NS)
    assert list(batch.rejections) == [reason]


def test_a_span_with_an_invalid_id_drops_nothing() -> None:
    spans = [
        span(0, attrs={"gen_ai.prompt": "secret"}),
        span(1, attrs={"hybrid.tier": "moon", "gen_ai.prompt": "secret"}),
    ]
    batch = normaliser().normalise(request(spans), fleet="f", now_ns=NOW_NS)
    # only the span whose identity held had its attributes read
    assert batch.dropped == {("f", "gen_ai.prompt"): 1}


def test_nine_minutes_ahead_is_accepted() -> None:
    batch = normaliser().normalise(
        request([span(1, start_ns=NOW_NS + 9 * 60 * 1_000_000_000)]), fleet=None, now_ns=NOW_NS
    )
    assert batch.rejected == 0 and len(batch.attempts) == 1


def test_message_counts_reasons_across_spans() -> None:
    spans = [
        span(1, attrs={"hybrid.tier": "x"}),
        span(2, attrs={"hybrid.tier": "y"}),
        span(3),
        span(4, attrs={"hybrid.task": ""}),
    ]
    batch = normaliser().normalise(request(spans), fleet=None, now_ns=NOW_NS)
    assert batch.rejection_message() == (
        "rejected 3 of 4 spans: unknown hybrid.tier (must be device, edge or cloud) "
        "(2 spans, first span_id 0000000000000002); missing hybrid.task (1 span, first span_id 0000000000000005)"
    )


def test_every_contract_attribute_becomes_a_column() -> None:
    attrs = {
        "hybrid.tier": "edge",
        "hybrid.task": "speech",
        "hybrid.model.name": "whisper-s",
        "hybrid.model.version": "2.2.0",
        "hybrid.attempt": 2,
        "hybrid.route.reason": "offline",
        "hybrid.fallback": True,
        "hybrid.fallback.reason": "low_confidence",
        "hybrid.confidence": 0.42,
        "hybrid.quality": 0.9,
        "hybrid.shadow": False,
        "hybrid.privacy": "sensitive",
        "hybrid.network": "metered",
        "hybrid.energy_mj": 12.5,
        "hybrid.thermal": "fair",
        "hybrid.quantization": "int8",
        "gen_ai.usage.input_tokens": 11,
        "gen_ai.usage.output_tokens": 7,
        "error.type": "timeout",
    }
    resource = {
        "service.name": "assistant",
        "service.version": "5.1",
        "device.id": "d-9",
        "device.model.identifier": "pixel-8",
        "os.name": "android",
        "os.version": "15",
        "hybrid.region": "eu-west",
        "hybrid.node": "edge-par-1",
        "hybrid.fleet": "payload-fleet",
        "deployment.environment.name": "prod",
    }
    batch = normaliser().normalise(
        request([span(7, attrs=attrs, latency_ms=123.5, error=True)], resource),
        fleet="token-fleet",
        now_ns=NOW_NS,
    )
    (row,) = batch.attempts
    assert (row.tier, row.task, row.model, row.model_version, row.attempt) == (
        "edge",
        "speech",
        "whisper-s",
        "2.2.0",
        2,
    )
    assert (row.route_reason, row.fallback, row.fallback_reason) == (
        "offline",
        True,
        "low_confidence",
    )
    assert (row.confidence, row.quality, row.shadow, row.privacy) == (0.42, 0.9, False, "sensitive")
    assert (row.network, row.energy_mj, row.thermal, row.quantization) == (
        "metered",
        12.5,
        "fair",
        "int8",
    )
    assert (row.input_tokens, row.output_tokens, row.error, row.error_type) == (
        11,
        7,
        True,
        "timeout",
    )
    assert row.latency_ms == 123.5
    # the token's fleet wins over the payload's
    assert row.fleet == "token-fleet"
    assert (row.service_name, row.app_version, row.device_id, row.device_model) == (
        "assistant",
        "5.1",
        "d-9",
        "pixel-8",
    )
    assert (row.os_name, row.os_version, row.region, row.node, row.environment) == (
        "android",
        "15",
        "eu-west",
        "edge-par-1",
        "prod",
    )
    # sensitive data on the edge breaks the default policy (device only)
    assert row.privacy_violation is True
    assert row.extra is None
    assert batch.dropped_attributes == 0


@pytest.mark.parametrize(
    ("tier", "policy", "violation"),
    [
        ("device", ("device",), False),  # the default policy allows the device
        ("cloud", ("device",), True),  # and nothing else
        ("edge", ("device", "edge"), False),  # a fleet may allow its edge nodes
        ("cloud", ("device", "edge"), True),
    ],
)
def test_privacy_policy(tier: str, policy: tuple[str, ...], violation: bool) -> None:
    n = normaliser(sensitive_allowed_tiers=lambda fleet: frozenset(policy))
    batch = n.normalise(
        request([span(1, attrs={"hybrid.tier": tier, "hybrid.privacy": "sensitive"})]),
        fleet="f",
        now_ns=NOW_NS,
    )
    assert batch.attempts[0].privacy_violation is violation


def test_normal_data_never_violates() -> None:
    batch = normaliser().normalise(
        request([span(1, attrs={"hybrid.tier": "cloud", "hybrid.privacy": "normal"})]),
        fleet=None,
        now_ns=NOW_NS,
    )
    assert batch.attempts[0].privacy_violation is False


def test_raw_content_and_unknown_attributes_are_dropped_and_counted() -> None:
    attrs = {
        "gen_ai.prompt": "my secret",
        "gen_ai.completion": "answer",
        "user.email": "a@b.c",
        "tenant": "x",
    }
    batch = normaliser(allowlist=["tenant"]).normalise(
        request(
            [span(1, attrs=attrs), span(2, attrs={"gen_ai.prompt": "again"})],
            {"host.name": "laptop"},
        ),
        fleet="f1",
        now_ns=NOW_NS,
    )
    assert batch.dropped == {
        ("f1", "gen_ai.prompt"): 2,
        ("f1", "gen_ai.completion"): 1,
        ("f1", "user.email"): 1,
        ("f1", "host.name"): 1,
    }
    assert batch.fleets["f1"].dropped_attributes == 5
    # allow-listed attributes are kept in the extra column; nothing else is
    assert batch.attempts[0].extra == '{"tenant": "x"}'
    assert batch.attempts[1].extra is None
    stored = repr(batch.attempts)
    assert "secret" not in stored and "answer" not in stored and "a@b.c" not in stored


def test_the_standard_sdk_resource_attributes_are_accepted_quietly() -> None:
    standard = {
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.language": "python",
        "telemetry.sdk.version": "1.45.2",
        "telemetry.auto.version": "0.48b0",
        "telemetry.distro.name": "opentelemetry-java-instrumentation",
        "telemetry.distro.version": "2.9.0",
        "service.instance.id": "627cc493-f310-47de-96bd-71410b7dec09",
        "service.namespace": "shop",
        "os.type": "linux",
        "os.description": "Android 14",
        "os.build_id": "UP1A.231005.007",
        "process.runtime.name": "cpython",
        "process.runtime.version": "3.11.9",
        "process.runtime.description": "CPython 3.11.9",
    }
    resource = {**standard, "host.name": "janes-laptop", "service.version": "4.2.0"}
    batch = normaliser(allowlist=["service.namespace"]).normalise(
        request([span(1)], resource), fleet="f1", now_ns=NOW_NS
    )
    # not stored, not counted: only host.name, which may name a person's device, is dropped
    assert batch.dropped == {("f1", "host.name"): 1}
    (attempt,) = batch.attempts
    assert attempt.app_version == "4.2.0"
    # the allow-list still keeps a standard attribute
    assert attempt.extra == '{"service.namespace": "shop"}'


def test_gen_ai_request_model_is_read_when_model_name_is_absent() -> None:
    batch = normaliser().normalise(
        request([span(1, attrs={"gen_ai.request.model": "llama-3b"})]), fleet=None, now_ns=NOW_NS
    )
    assert batch.attempts[0].model == "llama-3b"


def test_other_spans_are_counted_not_analysed() -> None:
    batch = normaliser().normalise(
        request([span(1, name="http.request"), span(2)]), fleet=None, now_ns=NOW_NS
    )
    assert (batch.spans_received, batch.other_spans, len(batch.attempts)) == (2, 1, 1)


@pytest.mark.parametrize(
    ("attrs", "field", "value"),
    [
        ({"hybrid.attempt": 2.0}, "attempt", 2),  # integral doubles are integers
        ({"hybrid.attempt": "3"}, "attempt", 3),  # so are digit strings
        ({"hybrid.confidence": 1}, "confidence", 1.0),  # ints are numbers
        ({"hybrid.fallback": "true"}, "fallback", True),  # "true" is a boolean
        ({"hybrid.model.version": 2}, "model_version", "2"),  # numbers become version strings
    ],
)
def test_lenient_coercions(attrs: dict[str, Any], field: str, value: Any) -> None:
    batch = normaliser().normalise(request([span(1, attrs=attrs)]), fleet=None, now_ns=NOW_NS)
    assert getattr(batch.attempts[0], field) == value


def test_fleet_falls_back_to_payload_then_default() -> None:
    n = normaliser()
    assert (
        n.normalise(request([span(1)], {"hybrid.fleet": "robots"}), fleet=None, now_ns=NOW_NS)
        .attempts[0]
        .fleet
        == "robots"
    )
    assert n.normalise(request([span(1)]), fleet=None, now_ns=NOW_NS).attempts[0].fleet == "default"
