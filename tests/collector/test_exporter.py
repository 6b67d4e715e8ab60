"""The real OpenTelemetry OTLP/HTTP exporter against a live server, stored rows checked exactly."""

from __future__ import annotations

import time

import pytest
import requests
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.trace import Status, StatusCode
from sqlalchemy import Engine, select

from collector import buckets
from collector.schema import ATTEMPTS, DEVICES, ROLLUPS, SEGMENTS
from tests.conftest import LiveServer

# A minute boundary ten minutes ago, so that every span falls in one rollup minute.
T0 = (time.time_ns() // 60_000_000_000 - 10) * 60_000_000_000


def _provider(url: str, compression: Compression) -> tuple[TracerProvider, OTLPSpanExporter]:
    resource = Resource.create(
        {
            "service.name": "camera-app",
            "service.version": "3.4.1",
            "device.id": "cam-7",
            "device.model.identifier": "galaxy-a14",
            "os.name": "android",
            "hybrid.region": "eu-west",
            "hybrid.fleet": "cameras",
        }
    )
    exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces", compression=compression)
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider, exporter


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_sdk_exporter_spans_are_stored_with_rollups(
    live_server: LiveServer, engine: Engine, compression: Compression
) -> None:
    provider, _ = _provider(live_server.url, compression)
    tracer = provider.get_tracer("router")
    latencies = [12.0, 15.0, 18.0, 250.0]
    for i, latency in enumerate(latencies):
        start = T0 + i * 1_000_000_000
        with tracer.start_as_current_span("request", start_time=start, end_on_exit=False) as root:
            attempt = tracer.start_span(
                "hybrid.inference",
                start_time=start,
                attributes={
                    "hybrid.tier": "device" if i < 3 else "cloud",
                    "hybrid.task": "photo-tag",
                    "hybrid.model.name": "tagger",
                    "hybrid.model.version": "2.2.0",
                    "hybrid.attempt": 1 if i < 3 else 2,
                    "hybrid.confidence": 0.5 + i / 10,
                    "gen_ai.input.messages": "a picture of my passport",
                },
            )
            if i == 1:
                attempt.set_status(Status(StatusCode.ERROR))
                attempt.set_attribute("error.type", "oom")
            attempt.end(end_time=start + int(latency * 1_000_000))
            root.end(end_time=start + int(latency * 1_000_000))
    assert provider.force_flush(10_000)
    provider.shutdown()

    with engine.connect() as conn:
        rows = conn.execute(select(ATTEMPTS).order_by(ATTEMPTS.c.start_time_unix_nano)).all()
        rollups = (
            conn.execute(
                select(SEGMENTS.c.tier, SEGMENTS.c.device_model, SEGMENTS.c.app_version, ROLLUPS)
                .join(SEGMENTS, SEGMENTS.c.id == ROLLUPS.c.segment_id)
                .order_by(SEGMENTS.c.tier)
            )
            .mappings()
            .all()
        )
        device = conn.execute(select(DEVICES)).one()
    assert [r.latency_ms for r in rows] == latencies
    assert [r.tier for r in rows] == ["device", "device", "device", "cloud"]
    assert [r.error for r in rows] == [False, True, False, False]
    assert rows[1].error_type == "oom"
    assert {r.fleet for r in rows} == {"cameras"}
    assert all(r.parent_span_id is not None for r in rows)
    assert "passport" not in repr(rows)
    cloud, dev = rollups
    assert (dev["tier"], dev["device_model"], dev["app_version"], dev["minute"]) == (
        "device",
        "galaxy-a14",
        "3.4.1",
        T0 // 10**9,
    )
    assert (dev["attempts"], dev["requests"], dev["errors"], dev["latency_ms_sum"]) == (
        3,
        3,
        1,
        45.0,
    )
    assert buckets.decode(dev["latency_hist"]) == {
        buckets.latency_bucket(12.0): 1,
        buckets.latency_bucket(15.0): 1,
        buckets.latency_bucket(18.0): 1,
    }
    assert (cloud["attempts"], cloud["requests"], cloud["cloud_escalations"]) == (1, 0, 1)
    assert (device.device_id, device.model, device.model_version, device.last_seen) == (
        "cam-7",
        "tagger",
        "2.2.0",
        T0 // 10**9 + 3,
    )

    summary = requests.get(f"{live_server.url}/api/v1/summary", timeout=5).json()
    assert (summary["attempts"], summary["requests"], summary["other_spans"]) == (4, 3, 4)
    assert summary["dropped_by_key"]["gen_ai.input.messages"] == 4


def test_exporter_sees_success_and_resend_is_deduplicated(
    live_server: LiveServer, engine: Engine
) -> None:
    provider, exporter = _provider(live_server.url, Compression.Gzip)
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("router")
    with tracer.start_as_current_span(
        "hybrid.inference", attributes={"hybrid.tier": "edge", "hybrid.task": "asr"}
    ):
        pass
    provider.force_flush()
    spans = memory.get_finished_spans()
    # a device that lost its answer sends the same span again
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    provider.shutdown()
    with engine.connect() as conn:
        assert len(conn.execute(select(ATTEMPTS.c.span_id)).all()) == 1
        assert conn.execute(select(ROLLUPS.c.attempts)).scalar_one() == 1


def test_attempts_from_phone_and_cloud_exporters_make_one_request(
    live_server: LiveServer, engine: Engine
) -> None:
    from opentelemetry import trace

    from collector.assemble import assemble
    from collector.schema import REQUEST_ROLLUPS

    phone, _ = _provider(live_server.url, Compression.Gzip)
    # the cloud service sends for the same fleet (with a token, the token says so)
    cloud_resource = Resource.create(
        {"service.name": "tagger-api", "hybrid.node": "cloud-1", "hybrid.fleet": "cameras"}
    )
    cloud = TracerProvider(resource=cloud_resource)
    cloud.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{live_server.url}/v1/traces"))
    )
    start = T0 + 30 * 1_000_000_000
    attrs = {"hybrid.task": "photo-tag", "hybrid.model.name": "tagger"}
    with phone.get_tracer("router").start_as_current_span(
        "request", start_time=start, end_on_exit=False
    ) as root:
        device = phone.get_tracer("router").start_span(
            "hybrid.inference",
            start_time=start,
            attributes={
                **attrs,
                "hybrid.tier": "device",
                "hybrid.attempt": 1,
                "hybrid.fallback": True,
                "hybrid.fallback.reason": "low_confidence",
            },
        )
        device.end(end_time=start + 35_000_000)
        # the request's context travels to the cloud service (traceparent)
        context = trace.set_span_in_context(trace.NonRecordingSpan(root.get_span_context()))
        root.end(end_time=start + 400_000_000)
    # the cloud service exports first; the phone's batch comes in a later export
    answer = cloud.get_tracer("tagger-api").start_span(
        "hybrid.inference",
        context=context,
        start_time=start + 40_000_000,
        attributes={**attrs, "hybrid.tier": "cloud", "hybrid.attempt": 2, "hybrid.quality": 0.5},
    )
    answer.end(end_time=start + 340_000_000)
    assert cloud.force_flush(10_000)
    assemble(engine, now_ns=time.time_ns())
    assert phone.force_flush(10_000)
    phone.shutdown()
    cloud.shutdown()
    assemble(engine, now_ns=time.time_ns())

    with engine.connect() as conn:
        rows = (
            conn.execute(
                select(SEGMENTS.c.tier, REQUEST_ROLLUPS).join(
                    SEGMENTS, SEGMENTS.c.id == REQUEST_ROLLUPS.c.segment_id
                )
            )
            .mappings()
            .all()
        )
    # one request, in the phone's segment and minute: escalated, 340 ms end to end
    assert len(rows) == 1
    row = rows[0]
    assert (row["tier"], row["minute"], row["requests"], row["escalated"]) == (
        "device",
        T0 // 10**9,
        1,
        1,
    )
    assert (row["served_cloud"], row["attempts_sum"], row["quality_sum"]) == (1, 2, 0.5)
    assert row["latency_hist"] == buckets.encode({buckets.latency_bucket(340.0): 1})
