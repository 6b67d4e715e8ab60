"""The collector observing itself: counters for ``/metrics``, OTLP export, bounded log lines.

Instruments count spans received, stored, duplicated and rejected (by reason),
export requests by HTTP status and refused ones by reason, batch sizes and
request latency. ``/metrics`` serves them in the Prometheus text format
(prometheus_client). When the server runs as several processes (``serve
--workers N``), each process writes its counts to a file of its own in the
directory named by ``PROMETHEUS_MULTIPROC_DIR`` and a scrape of any process sums
every file, so a scrape tells the server's totals whichever process answers it.
When the standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`` variable is set, the same counts are also
pushed by OTLP/HTTP from each process (configured by the usual ``OTEL_*``
variables), under the OpenTelemetry names (``tierwatch.collector.spans.received``...).

Refused requests and rejected spans are also logged, as one summary line per kind
at most every :data:`LOG_INTERVAL_SECONDS` (:mod:`collector.logsummary`).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Mapping
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from collector.cardinality import LIMITED_DIMENSIONS, OVERFLOW
from collector.logsummary import SummaryLog
from collector.normalise import REJECTION_REASONS

if TYPE_CHECKING:
    from collector.ingest import Outcome

log = logging.getLogger("collector")

_OTLP_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
#: Set (to a directory) in every process of a multi-process server; prometheus_client
#: reads it when a metric is created, so it must be set before the process starts.
MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
#: At most one summary line per kind (refused requests, rejected spans) per this many seconds.
LOG_INTERVAL_SECONDS = 10.0

_DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


class CollectorMetrics:
    """The collector's own instruments, private to one app (or summed over a server's processes)."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        log_interval: float = LOG_INTERVAL_SECONDS,
    ) -> None:
        environ = os.environ if environ is None else environ
        #: This process's instruments; ``/metrics`` shows them unless counts are shared.
        self.registry = CollectorRegistry()
        #: Values read at scrape time (database, processes), added by the composition root.
        self.scraped = CollectorRegistry()
        self.multiprocess_dir = environ.get(MULTIPROCESS_VARIABLE) or None
        self._shut_down = False
        r = self.registry
        self.spans_received = Counter(
            "tierwatch_collector_spans_received", "Spans in export requests.", registry=r
        )
        self.spans_stored = Counter(
            "tierwatch_collector_spans_stored", "Attempts newly stored.", registry=r
        )
        self.spans_rejected = Counter(
            "tierwatch_collector_spans_rejected",
            "Spans rejected for breaking the telemetry contract, by reason.",
            ["reason"],
            registry=r,
        )
        for reason in REJECTION_REASONS:
            self.spans_rejected.labels(reason)
        self.spans_duplicate = Counter(
            "tierwatch_collector_spans_duplicate", "Re-sent attempts already stored.", registry=r
        )
        self.attributes_dropped = Counter(
            "tierwatch_collector_attributes_dropped",
            "Attributes dropped before storage (outside the contract and allow-list).",
            registry=r,
        )
        self.values_folded = Counter(
            "tierwatch_collector_attempts_folded",
            "Attempts stored with the overflow value __other__ because their fleet had "
            "reached the dimension's limit (collector.max_values), by dimension.",
            ["dimension"],
            registry=r,
        )
        self.distinct_values_folded = Counter(
            "tierwatch_collector_distinct_values_folded",
            "Distinct values folded into __other__, by dimension (each counted once per "
            "collector process that met it).",
            ["dimension"],
            registry=r,
        )
        for dimension in LIMITED_DIMENSIONS:
            self.values_folded.labels(dimension)
            self.distinct_values_folded.labels(dimension)
        self.requests = Counter(
            "tierwatch_collector_requests",
            "Export requests by HTTP status.",
            ["http_response_status_code"],
            registry=r,
        )
        self.requests_refused = Counter(
            "tierwatch_collector_requests_refused",
            "Export requests answered with an error, by reason.",
            ["reason"],
            registry=r,
        )
        self.batch_size = Histogram(
            "tierwatch_collector_batch_size",
            "Spans per export request.",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.request_duration = Histogram(
            "tierwatch_collector_request_duration_seconds",
            "Time to receive, decode, validate and commit an export request.",
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.refusals = SummaryLog(
            log, verb="refused", noun="export requests", interval=log_interval
        )
        self.rejections = SummaryLog(log, verb="rejected", noun="spans", interval=log_interval)
        self.folds = SummaryLog(
            log,
            verb="folded",
            noun=f"attempts into {OVERFLOW} (over the fleet's collector.max_values)",
            interval=log_interval,
            words=False,
        )
        self._otlp: _OtlpInstruments | None = None
        if any(environ.get(name) for name in _OTLP_VARIABLES):
            self._otlp = _OtlpInstruments()
        self.otlp_export = self._otlp is not None

    def record(self, outcome: Outcome) -> None:
        """Count one processed export request's spans."""
        self.batch_size.observe(outcome.spans_received)
        self.spans_received.inc(outcome.spans_received)
        self.spans_stored.inc(outcome.stored)
        self.spans_duplicate.inc(outcome.duplicates)
        self.attributes_dropped.inc(outcome.dropped_attributes)
        for reason, count in outcome.rejected_by_reason.items():
            self.spans_rejected.labels(reason).inc(count)
            self.rejections.add(reason, count)
        for (fleet, dimension), count in outcome.folded_attempts.items():
            self.values_folded.labels(dimension).inc(count)
            self.folds.add(f"fleet {fleet} {dimension}", count)
        for (_, dimension), count in outcome.folded_values.items():
            self.distinct_values_folded.labels(dimension).inc(count)
        if self._otlp is not None:
            self._otlp.record(outcome)

    def request(self, status: int, seconds: float, refused: str | None = None) -> None:
        """Count one export request answered ``status``, refused for ``refused`` if it was."""
        self.requests.labels(str(status)).inc()
        self.request_duration.observe(seconds)
        if refused is not None:
            self.requests_refused.labels(refused).inc()
            self.refusals.add(refused)
        if self._otlp is not None:
            self._otlp.request(status, seconds)

    def flush_logs(self) -> None:
        """Write the summary lines that are due (the server calls this now and then)."""
        self.refusals.flush()
        self.rejections.flush()
        self.folds.flush()

    def prometheus_text(self) -> bytes:
        """The current values in the Prometheus text exposition format."""
        if self.multiprocess_dir is not None:
            shared = CollectorRegistry()
            MultiProcessCollector(shared, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
            counts = generate_latest(shared)
        else:
            counts = generate_latest(self.registry)
        return counts + generate_latest(self.scraped)

    def shutdown(self) -> None:
        """Write the last summary lines, flush and stop the exporters; later calls do nothing."""
        if not self._shut_down:
            self._shut_down = True
            self.refusals.interval = self.rejections.interval = self.folds.interval = 0
            self.flush_logs()
            if self._otlp is not None:
                self._otlp.provider.shutdown()


class _OtlpInstruments:
    """The same counts as OpenTelemetry instruments, pushed by the OTLP exporter."""

    def __init__(self) -> None:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import Resource

        service_version = version("tierwatch")
        resource = Resource.create(
            {
                "service.name": "tierwatch",
                "service.version": service_version,
                # Each process pushes its own counts; the backend sums the instances.
                "service.instance.id": str(uuid.uuid4()),
            }
        )
        self.provider = MeterProvider(
            metric_readers=[PeriodicExportingMetricReader(OTLPMetricExporter())],
            resource=resource,
        )
        meter = self.provider.get_meter("tierwatch.collector", service_version)
        self.counters: dict[str, Any] = {
            name: meter.create_counter(f"tierwatch.collector.{name}", unit=unit)
            for name, unit in (
                ("spans.received", "{span}"),
                ("spans.stored", "{span}"),
                ("spans.rejected", "{span}"),
                ("spans.duplicate", "{span}"),
                ("attributes.dropped", "{attribute}"),
                ("requests", "{request}"),
            )
        }
        self.batch_size = meter.create_histogram(
            "tierwatch.collector.batch.size",
            unit="{span}",
            explicit_bucket_boundaries_advisory=list(_BATCH_BUCKETS),
        )
        self.request_duration = meter.create_histogram(
            "tierwatch.collector.request.duration",
            unit="s",
            explicit_bucket_boundaries_advisory=list(_DURATION_BUCKETS),
        )

    def record(self, outcome: Outcome) -> None:
        c = self.counters
        self.batch_size.record(outcome.spans_received)
        c["spans.received"].add(outcome.spans_received)
        c["spans.stored"].add(outcome.stored)
        c["spans.duplicate"].add(outcome.duplicates)
        c["attributes.dropped"].add(outcome.dropped_attributes)
        for reason, count in outcome.rejected_by_reason.items():
            c["spans.rejected"].add(count, {"reason": reason})

    def request(self, status: int, seconds: float) -> None:
        self.counters["requests"].add(1, {"http.response.status_code": status})
        self.request_duration.record(seconds)
