"""The collector observing itself with the OpenTelemetry SDK.

Instruments count spans received, stored, rejected and duplicated, export
requests by outcome, batch sizes and request latency. A Prometheus reader serves
them at ``/metrics``; when the standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`` variable is set, an OTLP/HTTP exporter
pushes them there as well (configured by the usual ``OTEL_*`` variables).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib.metadata import version

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from prometheus_client import CollectorRegistry, generate_latest

_OTLP_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")


class CollectorMetrics:
    """The collector's own instruments, on a meter provider private to one app."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        self.registry = CollectorRegistry()
        self._shut_down = False
        readers: list[MetricReader] = [PrometheusMetricReader(registry=self.registry)]
        if any(environ.get(name) for name in _OTLP_VARIABLES):
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

            readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
        self.otlp_export = len(readers) > 1
        service_version = version("tierwatch")
        resource = Resource.create(
            {"service.name": "tierwatch", "service.version": service_version}
        )
        self.provider = MeterProvider(metric_readers=readers, resource=resource)
        meter = self.provider.get_meter("tierwatch.collector", service_version)
        self.spans_received = meter.create_counter(
            "tierwatch.collector.spans.received",
            unit="{span}",
            description="Spans in export requests.",
        )
        self.spans_stored = meter.create_counter(
            "tierwatch.collector.spans.stored", unit="{span}", description="Attempts newly stored."
        )
        self.spans_rejected = meter.create_counter(
            "tierwatch.collector.spans.rejected",
            unit="{span}",
            description="Spans rejected for breaking the telemetry contract.",
        )
        self.spans_duplicate = meter.create_counter(
            "tierwatch.collector.spans.duplicate",
            unit="{span}",
            description="Re-sent attempts already stored.",
        )
        self.attributes_dropped = meter.create_counter(
            "tierwatch.collector.attributes.dropped",
            unit="{attribute}",
            description="Attributes dropped before storage (outside the contract and allow-list).",
        )
        self.requests = meter.create_counter(
            "tierwatch.collector.requests",
            unit="{request}",
            description="Export requests by HTTP status.",
        )
        self.batch_size = meter.create_histogram(
            "tierwatch.collector.batch.size",
            unit="{span}",
            description="Spans per export request.",
            explicit_bucket_boundaries_advisory=[1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
        )
        self.request_duration = meter.create_histogram(
            "tierwatch.collector.request.duration",
            unit="s",
            description="Time to receive, decode, validate and commit an export request.",
            explicit_bucket_boundaries_advisory=[
                0.001,
                0.0025,
                0.005,
                0.01,
                0.025,
                0.05,
                0.1,
                0.25,
                0.5,
                1.0,
                2.5,
                5.0,
                10.0,
            ],
        )

    def prometheus_text(self) -> bytes:
        """The current values in the Prometheus text exposition format."""
        return generate_latest(self.registry)

    def shutdown(self) -> None:
        """Flush and stop the exporters; later calls do nothing."""
        if not self._shut_down:
            self._shut_down = True
            self.provider.shutdown()
