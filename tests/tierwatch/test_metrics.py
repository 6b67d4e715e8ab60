"""``/metrics`` after known sequences: exact counts, bounded logs, several processes, alerting."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from collector.logsummary import SummaryLog
from tests.conftest import LiveServer, free_port, make_settings, wait_until_serving
from tests.otlp import request, span
from tierwatch.app import create_app

PB = {"Content-Type": "application/x-protobuf"}


def values(text: str) -> dict[str, float]:
    """Each sample line of a Prometheus text as ``name{labels}`` -> value."""
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


def test_rejected_spans_and_refused_requests_by_reason(client: TestClient) -> None:
    spans = [
        span(1),
        span(2, attrs={"hybrid.tier": ""}),  # missing tier
        span(3, attrs={"hybrid.tier": ""}),
        span(4, attrs={"hybrid.tier": "moon"}),  # unknown tier
        span(5, attrs={"hybrid.confidence": 3.0}),  # confidence outside 0..1
        span(6, attrs={"hybrid.attempt": "first"}),  # wrong type
    ]
    resp = client.post("/v1/traces", content=request(spans).SerializeToString(), headers=PB)
    assert resp.status_code == 200
    assert client.post("/v1/traces", content=b"\xff\xff", headers=PB).status_code == 400
    assert (
        client.post("/v1/traces", content=b"x", headers={"Content-Type": "text/plain"}).status_code
        == 415
    )
    got = values(client.get("/metrics").text)
    assert got['tierwatch_collector_spans_rejected_total{reason="missing_tier"}'] == 2
    assert got['tierwatch_collector_spans_rejected_total{reason="unknown_tier"}'] == 1
    assert got['tierwatch_collector_spans_rejected_total{reason="confidence_range"}'] == 1
    assert got['tierwatch_collector_spans_rejected_total{reason="wrong_type"}'] == 1
    assert got['tierwatch_collector_spans_rejected_total{reason="missing_task"}'] == 0
    assert got["tierwatch_collector_spans_stored_total"] == 1
    assert got['tierwatch_collector_requests_refused_total{reason="bad_request"}'] == 1
    assert got['tierwatch_collector_requests_refused_total{reason="unsupported_type"}'] == 1
    assert got['tierwatch_collector_requests_total{http_response_status_code="200"}'] == 1
    assert got['tierwatch_collector_requests_total{http_response_status_code="400"}'] == 1


def test_a_flood_of_refusals_is_logged_as_summary_lines(
    db_url: str, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(db_url, **{"collector.max_body_bytes": 1024})
    too_large = request([span(n) for n in range(1, 40)]).SerializeToString()
    rejected = request([span(1, attrs={"hybrid.task": ""})]).SerializeToString()
    app = create_app(settings, engine=engine, migrate=False)
    with caplog.at_level(logging.INFO), TestClient(app) as client:
        for _ in range(300):
            assert client.post("/v1/traces", content=too_large, headers=PB).status_code == 413
        for _ in range(5):
            assert client.post("/v1/traces", content=rejected, headers=PB).status_code == 200
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    refused = [
        re.fullmatch(r"refused (\d+) export requests in the last \d+ s \(too large: \1\)", w)
        for w in warnings
    ]
    rejected = [
        re.fullmatch(r"rejected (\d+) spans in the last \d+ s \(missing task: \1\)", w)
        for w in warnings
    ]
    # every warning is a summary line; one per kind per 10 s (the flood takes a few seconds)
    assert all(a or b for a, b in zip(refused, rejected, strict=True))
    assert 1 <= len([m for m in refused if m]) <= 2 and 1 <= len([m for m in rejected if m]) <= 2
    assert sum(int(m.group(1)) for m in refused if m) == 300
    assert sum(int(m.group(1)) for m in rejected if m) == 5


def test_summary_lines_come_at_most_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    summary = SummaryLog(
        logging.getLogger("t"),
        verb="refused",
        noun="export requests",
        interval=10,
        clock=lambda: now[0],
    )
    with caplog.at_level(logging.INFO):
        for second in range(36):  # a flood of 36 s, 130 refusals a second
            now[0] = float(second)
            summary.add("queue_full", 128)
            summary.add("too_large", 2)
        now[0] = 40.0
        summary.flush()
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "refused 1,428 export requests in the last 10 s (queue full: 1,408, too large: 20)",
        "refused 1,300 export requests in the last 10 s (queue full: 1,280, too large: 20)",
        "refused 1,300 export requests in the last 10 s (queue full: 1,280, too large: 20)",
        "refused 652 export requests in the last 10 s (queue full: 640, too large: 12)",
    ]


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def test_alerting_database_and_process_metrics(db_url: str, engine: Engine, hook: str) -> None:
    rule = {
        "name": "high_errors",
        "metric": "error_rate",
        "match": {"tier": "device"},
        "op": ">",
        "threshold": 0.5,
        "for": "0s",
        "min_attempts": 5,
    }
    settings = make_settings(
        db_url,
        **{
            "alerts.evaluation_interval_seconds": 0.2,
            "alerts.delivery_interval_seconds": 0.2,
            "alerts.degraded_rule": False,
            "alerts.rules": [rule],
            "alerts.allowed_hosts": ["127.0.0.1"],
            "alerts.hooks": [{"name": "ops", "url": hook, "secret": "whsec_" + "A" * 32}],
        },
    )
    start_ns = time.time_ns() - 60_000_000_000
    spans = [span(n, error=True, start_ns=start_ns) for n in range(1, 11)]
    body = request(spans, {"hybrid.fleet": "robots"}).SerializeToString()
    with LiveServer(create_app(settings, engine=engine, migrate=False)) as server:
        assert requests.post(f"{server.url}/v1/traces", data=body, headers=PB, timeout=30).ok
        deadline = time.monotonic() + 30
        while True:
            got = values(requests.get(f"{server.url}/metrics", timeout=30).text)
            delivered = got.get('tierwatch_alert_deliveries{hook="ops",status="delivered"}')
            if delivered == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert delivered == 1
    assert got['tierwatch_alerts{state="firing"}'] == 1
    assert got['tierwatch_alerts{state="pending"}'] == 0
    assert got["tierwatch_alert_outbox_depth"] == 0
    assert got["tierwatch_alert_outbox_oldest_age_seconds"] == 0
    written = got['tierwatch_alert_evaluations_total{outcome="written"}']
    assert written >= 1
    assert got["tierwatch_alert_evaluation_duration_seconds_count"] >= written
    assert got["tierwatch_alert_evaluation_duration_seconds_sum"] > 0
    assert got["tierwatch_db_errors_total"] == 0
    # the scrape itself holds none; the alert loop, running every 0.2 s, may hold its one
    assert got["tierwatch_db_pool_checked_out"] in (0, 1)
    assert got["tierwatch_process_resident_memory_bytes"] > 10_000_000
    assert got["tierwatch_process_cpu_seconds_total"] > 0
    # this process (the server runs in a thread of it) and whatever it started and still runs
    assert got["tierwatch_processes"] == 1 + len(_descendants(os.getpid()))


def _descendants(pid: int) -> list[int]:
    """The live processes started by ``pid``, and by them, from /proc."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *_descendants(child)]
    return found


def test_counts_are_the_servers_whichever_process_answers(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tierwatch",
            "serve",
            "--dev",
            "--workers",
            "2",
            "--port",
            str(port),
            "--db",
            f"sqlite:///{tmp_path / 'two.db'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_serving(port, proc, timeout=60)
        url = f"http://127.0.0.1:{port}"
        sent = 24
        for n in range(1, sent + 1):
            body = request([span(n), span(1000 + n, attrs={"hybrid.tier": ""})]).SerializeToString()
            # a new connection each time, so that both processes take requests
            resp = requests.post(f"{url}/v1/traces", data=body, headers=PB, timeout=30)
            assert resp.status_code == 200
        for _ in range(8):
            got = values(requests.get(f"{url}/metrics", timeout=30).text)
            assert (
                got['tierwatch_collector_requests_total{http_response_status_code="200"}'] == sent
            )
            assert got["tierwatch_collector_spans_stored_total"] == sent
            assert got['tierwatch_collector_spans_rejected_total{reason="missing_tier"}'] == sent
            # two server processes and their supervisor (and multiprocessing's helpers)
            assert got["tierwatch_processes"] >= 3
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_the_attempts_waiting_in_the_queue_are_counted(engine: Engine) -> None:
    from collector.assemble import assemble, queued_attempts
    from collector.normalise import Normaliser
    from collector.store import Store
    from tierwatch.observe import RequestsCollector

    store = Store(engine)
    for spans in ([span(1, trace=1), span(2, trace=1)], [span(3, trace=2)]):
        batch = Normaliser().normalise(request(spans), fleet="f", now_ns=time.time_ns())
        store.write(batch, received_ns=time.time_ns())

    def gauge() -> float:
        (metric,) = RequestsCollector(engine).collect()
        return metric.samples[0].value

    assert (queued_attempts(engine), gauge()) == (3, 3.0)
    assemble(engine, now_ns=time.time_ns())
    assert (queued_attempts(engine), gauge()) == (0, 0.0)
