"""The collector's own metrics: Prometheus text and OTLP export to a real receiver."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from collector.ingest import Outcome
from collector.telemetry import CollectorMetrics

OUTCOME = Outcome(
    response=b"",
    spans_received=500,
    stored=480,
    duplicates=0,
    rejected=20,
    dropped_attributes=0,
    rejected_by_reason={"missing_tier": 20},
)


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Any:
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_otlp_export_when_the_standard_variable_is_set(
    receiver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{receiver.server_port}")
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "100")
    metrics = CollectorMetrics()
    assert metrics.otlp_export is True
    metrics.record(OUTCOME)
    deadline = time.monotonic() + 10
    while not _Receiver.received and time.monotonic() < deadline:
        time.sleep(0.05)
    metrics.shutdown()
    path, body = _Receiver.received[0]
    assert path == "/v1/metrics"
    request = ExportMetricsServiceRequest.FromString(body)
    values = {
        m.name: m.sum.data_points[0].as_int
        for rm in request.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.HasField("sum")
    }
    assert values["tierwatch.collector.spans.received"] == 500
    assert values["tierwatch.collector.spans.stored"] == 480
    resource = {
        kv.key: kv.value.string_value for kv in request.resource_metrics[0].resource.attributes
    }
    assert resource["service.name"] == "tierwatch"


def test_no_otlp_export_without_the_variable() -> None:
    metrics = CollectorMetrics(environ={})
    assert metrics.otlp_export is False
    metrics.request(200, 0.01)
    metrics.record(OUTCOME)
    lines = metrics.prometheus_text().decode().splitlines()
    assert 'tierwatch_collector_requests_total{http_response_status_code="200"} 1.0' in lines
    assert 'tierwatch_collector_spans_rejected_total{reason="missing_tier"} 20.0' in lines
    metrics.shutdown()
