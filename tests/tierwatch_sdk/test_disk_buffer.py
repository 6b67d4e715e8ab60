"""The disk-buffering exporter against a real local HTTP receiver that refuses, then accepts."""

from __future__ import annotations

import gzip
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.conftest import LiveServer, free_port
from tierwatch_sdk import DiskBufferingSpanExporter, attempt, fleet_resource


class Receiver:
    """A local OTLP/HTTP receiver that answers ``status`` and records the spans it accepted."""

    def __init__(self, port: int | None = None) -> None:
        self.status = 200
        #: The answer's body and type; None for an empty ExportTraceServiceResponse.
        self.answer: bytes | None = None
        self.content_type = "application/x-protobuf"
        self.requests = 0
        self.span_ids: list[str] = []
        self.authorization: list[str | None] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                receiver.requests += 1
                receiver.authorization.append(self.headers.get("Authorization"))
                status = receiver.status
                if 200 <= status < 300:
                    export = ExportTraceServiceRequest.FromString(body)
                    receiver.span_ids += [
                        span.span_id.hex()
                        for rs in export.resource_spans
                        for ss in rs.scope_spans
                        for span in ss.spans
                    ]
                answer = receiver.answer
                if answer is None:
                    answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(status)
                self.send_header("Content-Type", receiver.content_type)
                self.send_header("Content-Length", str(len(answer)))
                if status in (429, 503):
                    self.send_header("Retry-After", "30")
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port or 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


_provider = TracerProvider(
    resource=fleet_resource(service_name="companion-app", fleet="phones", device_id="d-1")
)
_memory = InMemorySpanExporter()
_provider.add_span_processor(SimpleSpanProcessor(_memory))


def spans(count: int) -> list[ReadableSpan]:
    """``count`` finished attempt spans, as a batch span processor would hand them over."""
    _memory.clear()
    tracer = _provider.get_tracer("test")
    for i in range(count):
        with attempt("device", "photo-tag", number=1 + i % 2, tracer=tracer) as a:
            a.confidence = 0.9
    return list(_memory.get_finished_spans())


def ids(batch: list[ReadableSpan]) -> list[str]:
    return [f"{span.context.span_id:016x}" for span in batch]


def spool_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_spans_wait_on_disk_while_refused_and_arrive_once_after(
    receiver: Receiver, tmp_path: Path
) -> None:
    receiver.status = 503
    exporter = DiskBufferingSpanExporter(tmp_path, receiver.url)
    first, second = spans(3), spans(2)
    assert exporter.export(first) is SpanExportResult.SUCCESS  # kept safe on disk
    assert exporter.export(second) is SpanExportResult.SUCCESS
    assert (exporter.pending_spans, exporter.pending_batches) == (5, 2)
    assert receiver.span_ids == []
    assert [name.split("-")[1] for name in spool_files(tmp_path)] == ["3.otlp", "2.otlp"]

    receiver.status = 200
    assert exporter.force_flush() is True
    assert receiver.span_ids == ids(first) + ids(second)
    assert (exporter.pending_spans, exporter.delivered_spans, exporter.dropped_spans) == (
        5 - 5,
        5,
        0,
    )
    assert spool_files(tmp_path) == []
    tried = receiver.requests
    assert exporter.force_flush() is True
    exporter.shutdown()
    assert receiver.requests == tried  # nothing is sent twice


def test_connection_refused_then_the_receiver_starts(tmp_path: Path) -> None:
    port = free_port()
    exporter = DiskBufferingSpanExporter(tmp_path, f"http://127.0.0.1:{port}/v1/traces", timeout=2)
    batch = spans(3)
    assert exporter.export(batch) is SpanExportResult.SUCCESS
    assert exporter.pending_spans == 3
    receiver = Receiver(port)
    try:
        assert exporter.force_flush() is True
        assert receiver.span_ids == ids(batch)
    finally:
        receiver.close()


def test_a_new_exporter_sends_what_a_dead_one_kept(receiver: Receiver, tmp_path: Path) -> None:
    old = DiskBufferingSpanExporter(tmp_path, receiver.url, is_online=lambda: False)
    kept = spans(4)
    old.export(kept)
    assert receiver.requests == 0  # offline: nothing was tried
    (tmp_path / ".00000000000000000001-9.otlp.tmp").write_bytes(b"half a write")
    del old  # the process died: no shutdown, no flush

    new = DiskBufferingSpanExporter(tmp_path, receiver.url)
    assert new.pending_spans == 4
    assert spool_files(tmp_path) == [spool_files(tmp_path)[0]]  # the torn write is gone
    assert new.force_flush() is True
    assert receiver.span_ids == ids(kept)
    new.shutdown()


def test_nothing_is_tried_offline_and_the_backlog_goes_first_on_reconnect(
    receiver: Receiver, tmp_path: Path
) -> None:
    online = False
    exporter = DiskBufferingSpanExporter(
        tmp_path,
        receiver.url,
        headers={"Authorization": "Bearer tw_ingest"},
        is_online=lambda: online,
    )
    backlog = spans(3)
    exporter.export(backlog)
    assert exporter.force_flush() is False  # still offline
    assert receiver.requests == 0
    online = True
    fresh = spans(2)
    exporter.export(fresh)  # the next export after reconnecting sends everything, oldest first
    assert receiver.span_ids == ids(backlog) + ids(fresh)
    assert receiver.authorization == ["Bearer tw_ingest", "Bearer tw_ingest"]
    assert exporter.pending_spans == 0


@pytest.mark.parametrize(
    ("status", "delivered", "kept", "dropped"),
    [
        (200, 2, 0, 0),  # stored
        (204, 2, 0, 0),  # any 2xx is an acknowledgement
        (400, 0, 0, 2),  # bad data never becomes good: dropped and counted
        (401, 0, 2, 0),  # a wrong token is fixed by the operator: keep the spans
        (403, 0, 2, 0),  # likewise a token without the ingest role
        (404, 0, 2, 0),  # a wrong URL is fixed by configuration
        (405, 0, 2, 0),  # likewise a URL that does not take POST
        (413, 0, 2, 0),  # the receiver's size limit is configuration too
        (415, 0, 2, 0),  # not an OTLP receiver: a wrong URL
        (500, 0, 2, 0),  # a failing receiver gets fixed; the age bound limits the wait
        (429, 0, 2, 0),  # overloaded: retry later
        (502, 0, 2, 0),  # a gateway without its upstream: retry later
        (503, 0, 2, 0),  # busy: retry later
        (504, 0, 2, 0),  # a gateway timed out: retry later
    ],
)
def test_each_answer_keeps_drops_or_delivers(
    receiver: Receiver, tmp_path: Path, status: int, delivered: int, kept: int, dropped: int
) -> None:
    receiver.status = status
    exporter = DiskBufferingSpanExporter(tmp_path, receiver.url)
    exporter.export(spans(2))
    assert (exporter.delivered_spans, exporter.pending_spans, exporter.dropped_spans) == (
        delivered,
        kept,
        dropped,
    )
    assert receiver.requests == 1


def test_the_spool_is_bounded_and_drops_the_oldest(receiver: Receiver, tmp_path: Path) -> None:
    receiver.status = 503
    batches = [spans(2) for _ in range(4)]
    size = len(spool_size_probe(batches[0], tmp_path / "probe"))
    exporter = DiskBufferingSpanExporter(tmp_path / "spool", receiver.url, max_bytes=2 * size + 10)
    for batch in batches:
        exporter.export(batch)
    assert (exporter.pending_spans, exporter.dropped_spans) == (4, 4)
    assert exporter.dropped == {"spool_full": 4}
    receiver.status = 200
    exporter.force_flush()
    assert receiver.span_ids == ids(batches[2]) + ids(batches[3])


def spool_size_probe(batch: list[ReadableSpan], directory: Path) -> bytes:
    probe = DiskBufferingSpanExporter(
        directory, "http://127.0.0.1:9/v1/traces", is_online=lambda: False
    )
    probe.export(batch)
    (path,) = directory.iterdir()
    return path.read_bytes()


def test_spool_files_are_otlp_protobuf(tmp_path: Path) -> None:
    body = spool_size_probe(spans(2), tmp_path)
    export = ExportTraceServiceRequest.FromString(body)
    (resource_spans,) = export.resource_spans
    resource = {kv.key: kv.value.string_value for kv in resource_spans.resource.attributes}
    assert (resource["hybrid.fleet"], resource["device.id"]) == ("phones", "d-1")
    names = [span.name for ss in resource_spans.scope_spans for span in ss.spans]
    assert names == ["hybrid.inference", "hybrid.inference"]


def test_a_file_sent_again_after_a_crash_is_stored_once(
    live_server: LiveServer, tmp_path: Path
) -> None:
    # The receiver stored a file but the device died before deleting it: it is sent again.
    online = False
    spool = tmp_path / "spool"
    exporter = DiskBufferingSpanExporter(
        spool, f"{live_server.url}/v1/traces", is_online=lambda: online
    )
    exporter.export(spans(2))
    ((name, body),) = [(p.name, p.read_bytes()) for p in spool.iterdir()]
    online = True
    assert exporter.force_flush() is True
    (spool / name).write_bytes(body)  # the delete that never happened

    again = DiskBufferingSpanExporter(spool, f"{live_server.url}/v1/traces")
    assert again.force_flush() is True
    summary = requests.get(f"{live_server.url}/api/v1/summary", timeout=5).json()
    assert (summary["attempts"], summary["duplicates"], summary["spans_received"]) == (2, 2, 4)


def test_a_kept_file_is_logged_once_per_cause(
    receiver: Receiver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    exporter = DiskBufferingSpanExporter(tmp_path, receiver.url, drain_seconds=0)
    caplog.set_level(logging.WARNING, logger="tierwatch_sdk")
    exporter.export(spans(1))  # kept on disk only: no time to send
    for status in (404, 404, 404, 401, 401, 404, 200):
        receiver.status = status
        exporter.force_flush()
    exporter.export(spans(1))
    receiver.status = 404
    exporter.force_flush()
    assert receiver.requests == 8
    assert [r.getMessage().split(": ")[0] for r in caplog.records] == [
        f"{receiver.url} answered 404 Not Found",
        f"{receiver.url} answered 401 Unauthorized",
        f"{receiver.url} accepts spans again",
        f"{receiver.url} answered 404 Not Found",  # a new outage is told again
    ]
    assert caplog.records[0].getMessage() == (
        f"{receiver.url} answered 404 Not Found: no OTLP traces receiver at this URL: check "
        "OTEL_EXPORTER_OTLP_ENDPOINT (a base URL; /v1/traces is appended) or "
        f"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as given); spans kept in {tmp_path}: 1"
    )


def test_retry_after_is_honoured_before_the_next_try(receiver: Receiver, tmp_path: Path) -> None:
    receiver.status = 503  # the receiver sends Retry-After: 30
    exporter = DiskBufferingSpanExporter(tmp_path, receiver.url)
    exporter.export(spans(1))
    receiver.status = 200
    exporter.export(spans(1))  # within the 30 s: kept, not sent
    assert (receiver.requests, exporter.pending_spans) == (1, 2)
    assert exporter.force_flush() is True  # an explicit flush does not wait
    assert (receiver.requests, exporter.delivered_spans) == (3, 2)


def test_files_older_than_max_age_are_dropped_oldest_first(
    receiver: Receiver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.status = 503
    exporter = DiskBufferingSpanExporter(tmp_path, receiver.url, max_age=3600)
    exporter.export(spans(2))
    exporter.export(spans(3))
    old, _ = sorted(tmp_path.iterdir())
    two_hours_ago = time.time_ns() - 7200 * 10**9
    old.rename(tmp_path / f"{two_hours_ago:020d}-2.otlp")
    receiver.status = 200
    assert exporter.force_flush() is True
    assert (exporter.delivered_spans, exporter.dropped) == (3, {"too_old": 2})
    assert f"spool {tmp_path}: dropped 2 spans older than max_age (3600 s)" in caplog.messages


@pytest.mark.parametrize(
    ("content_type", "answer"),
    [
        # protobuf, as the request was sent
        (
            "application/x-protobuf",
            ExportTraceServiceResponse(
                partial_success=ExportTracePartialSuccess(
                    rejected_spans=1, error_message="missing hybrid.task"
                )
            ).SerializeToString(),
        ),
        # OTLP JSON, int64 as a string
        (
            "application/json; charset=utf-8",
            b'{"partialSuccess": {"rejectedSpans": "1", "errorMessage": "missing hybrid.task"}}',
        ),
    ],
)
def test_partial_success_is_reported(
    receiver: Receiver,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    content_type: str,
    answer: bytes,
) -> None:
    receiver.content_type, receiver.answer = content_type, answer
    reader = InMemoryMetricReader()
    exporter = DiskBufferingSpanExporter(
        tmp_path, receiver.url, meter_provider=MeterProvider(metric_readers=[reader])
    )
    exporter.export(spans(3))
    assert (exporter.delivered_spans, exporter.rejected_spans, exporter.pending_spans) == (2, 1, 0)
    assert caplog.messages == [f"{receiver.url} rejected 1 of 3 spans: missing hybrid.task"]
    assert caplog.records[0].levelno == logging.WARNING
    data = reader.get_metrics_data()
    assert data is not None
    points = {
        point.attributes["outcome"]: point.value
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == "tierwatch_sdk.exporter.spans"
        for point in metric.data.data_points
    }
    assert points == {"delivered": 2, "rejected": 1}


def test_the_standard_variables_configure_the_exporter(
    receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = receiver.url.removesuffix("/v1/traces")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", base + "/")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20tw_env")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "none")
    exporter = DiskBufferingSpanExporter(tmp_path)
    assert exporter.endpoint == receiver.url
    exporter.export(spans(1))
    assert (receiver.authorization, receiver.span_ids != []) == (["Bearer tw_env"], True)
