"""A server killed with SIGKILL in the middle of a load keeps every span it acknowledged."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import select

from collector.db import make_engine
from collector.schema import ATTEMPTS
from tests.conftest import free_port, wait_until_serving
from tests.otlp import request, span


def _start(db_url: str, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tierwatch", "serve", "--dev", "--port", str(port), "--db", db_url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until_serving(port, proc)
    return proc


def test_sigkill_loses_no_acknowledged_span(db_url: str) -> None:
    port = free_port()
    server = _start(db_url, port)
    acknowledged: set[bytes] = set()
    stop = threading.Event()
    lock = threading.Lock()

    def sender(worker: int) -> None:
        n = 0
        while not stop.is_set():
            base = (worker * 1_000_000 + n) * 100 + 1
            spans = [span(base + i, trace=base + i) for i in range(100)]
            body = request(spans).SerializeToString()
            n += 1
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request(
                    "POST",
                    "/v1/traces",
                    body=body,
                    headers={"Content-Type": "application/x-protobuf"},
                )
                status = conn.getresponse().status
            except OSError:
                return  # the server is gone: nothing more is acknowledged
            if status == 200:
                with lock:
                    acknowledged.update(s.span_id for s in spans)

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    # let the load run until a good number of batches are acknowledged, then kill mid-flight
    deadline = time.monotonic() + 30
    while len(acknowledged) < 3_000 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(server.pid, signal.SIGKILL)
    server.wait(10)
    stop.set()
    for t in threads:
        t.join(15)
    assert len(acknowledged) >= 3_000

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            stored = set(conn.execute(select(ATTEMPTS.c.span_id)).scalars())
    finally:
        engine.dispose()
    missing = acknowledged - {bytes(s) for s in stored}
    assert missing == set()
    # and a restarted server on the same database carries on
    server = _start(db_url, port)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/api/v1/summary")
        summary = conn.getresponse().read()
        assert b'"attempts"' in summary
    finally:
        server.terminate()
        server.wait(10)


pytestmark = pytest.mark.slow
