"""Ingest worker processes: the same answers as in-process ingest, and a dead worker is replaced."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from sqlalchemy import Engine

from tests.conftest import LiveServer, make_settings
from tests.otlp import request, span
from tierwatch.app import create_app

PB = {"Content-Type": "application/x-protobuf"}


@pytest.fixture
def pooled_server(db_url: str, engine: Engine) -> Iterator[LiveServer]:
    settings = make_settings(db_url, **{"collector.ingest_workers": 2})
    with LiveServer(create_app(settings, engine=engine, migrate=False)) as server:
        yield server


def _worker_pids() -> list[int]:
    children = Path(f"/proc/{os.getpid()}/task")
    pids = []
    for task in children.iterdir():
        path = task / "children"
        if path.exists():
            pids.extend(int(p) for p in path.read_text().split())
    return [p for p in pids if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text()]


def test_workers_store_and_answer_like_the_server(pooled_server: LiveServer) -> None:
    body = request([span(1), span(2, attrs={"hybrid.tier": "moon"}), span(3)]).SerializeToString()
    resp = requests.post(f"{pooled_server.url}/v1/traces", data=body, headers=PB, timeout=30)
    assert resp.status_code == 200
    answer = ExportTraceServiceResponse.FromString(resp.content)
    assert answer.partial_success.rejected_spans == 1
    # a bad body is refused by the worker with the same 400
    bad = requests.post(f"{pooled_server.url}/v1/traces", data=b"\xff\xff", headers=PB, timeout=30)
    assert bad.status_code == 400
    summary = requests.get(f"{pooled_server.url}/api/v1/summary", timeout=30).json()
    assert (summary["attempts"], summary["rejected"]) == (2, 1)
    metrics = requests.get(f"{pooled_server.url}/metrics", timeout=30).text
    stored = [
        line
        for line in metrics.splitlines()
        if line.startswith("tierwatch_collector_spans_stored_total")
    ]
    assert stored[0].endswith(" 2.0")


def test_a_killed_worker_is_replaced(pooled_server: LiveServer) -> None:
    pids = _worker_pids()
    assert len(pids) == 2
    os.kill(pids[0], signal.SIGKILL)
    statuses = []
    for n in range(1, 6):
        body = request([span(n * 10)]).SerializeToString()
        statuses.append(
            requests.post(
                f"{pooled_server.url}/v1/traces", data=body, headers=PB, timeout=30
            ).status_code
        )
    # at most the request that met the dead worker fails, with a retryable 503
    assert statuses.count(200) >= 4 and set(statuses) <= {200, 503}
    assert len(_worker_pids()) == 2
