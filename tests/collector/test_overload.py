"""Overload and an unavailable database answer 429/503 with Retry-After, and store nothing."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from google.rpc import status_pb2

from collector.db import make_engine
from tests.conftest import LiveServer, make_settings
from tests.otlp import request, span
from tierwatch.app import create_app
from tierwatch.migrate import upgrade

PB = {"Content-Type": "application/x-protobuf"}
BODY = request([span(1), span(2)]).SerializeToString()


def _server(db_url: str, **overrides: Any) -> LiveServer:
    engine = make_engine(db_url, busy_timeout_ms=overrides.pop("busy_timeout_ms", 5000))
    upgrade(engine)
    return LiveServer(create_app(make_settings(db_url, **overrides), engine=engine, migrate=False))


def _message(resp: requests.Response) -> str:
    return status_pb2.Status.FromString(resp.content).message


@pytest.fixture
def locked_sqlite(tmp_path: Path) -> Any:
    """A SQLite database whose write lock another process-like connection holds."""
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    upgrade(make_engine(url))
    holder = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    yield url, holder
    holder.close()


def test_full_queue_answers_429_and_slow_store_503(locked_sqlite: Any) -> None:
    url, holder = locked_sqlite
    overrides = {
        "collector.max_concurrent_requests": 1,
        "collector.max_queued_requests": 0,
        "collector.retry_after_seconds": 3,
        "busy_timeout_ms": 1500,
    }
    with _server(url, **overrides) as server:
        first: list[requests.Response] = []
        worker = threading.Thread(
            target=lambda: first.append(
                requests.post(f"{server.url}/v1/traces", data=BODY, headers=PB, timeout=30)
            )
        )
        worker.start()
        time.sleep(0.5)  # the first request now holds the only slot, waiting for the lock
        second = requests.post(f"{server.url}/v1/traces", data=BODY, headers=PB, timeout=30)
        assert second.status_code == 429
        assert second.headers["Retry-After"] == "3"
        assert (
            _message(second) == "Too many export requests are waiting; retry after the given delay."
        )
        worker.join(30)
        # the first one gave up on the database lock: retryable, nothing stored
        assert first[0].status_code == 503
        assert first[0].headers["Retry-After"] == "3"
        assert (
            _message(first[0])
            == "The database is busy or unreachable; nothing from this request was stored."
        )
        holder.execute("ROLLBACK")
        ok = requests.post(f"{server.url}/v1/traces", data=BODY, headers=PB, timeout=30)
        assert ok.status_code == 200
        assert requests.get(f"{server.url}/api/v1/summary", timeout=10).json()["attempts"] == 2


def test_queue_wait_times_out_with_503(locked_sqlite: Any) -> None:
    url, _holder = locked_sqlite
    overrides = {
        "collector.max_concurrent_requests": 1,
        "collector.max_queued_requests": 4,
        "collector.queue_timeout_seconds": 0.3,
        "busy_timeout_ms": 2000,
    }
    with _server(url, **overrides) as server:
        worker = threading.Thread(
            target=lambda: requests.post(
                f"{server.url}/v1/traces", data=BODY, headers=PB, timeout=30
            )
        )
        worker.start()
        time.sleep(0.3)
        queued = requests.post(f"{server.url}/v1/traces", data=BODY, headers=PB, timeout=30)
        assert queued.status_code == 503
        assert queued.headers["Retry-After"] == "2"
        assert _message(queued) == "export request waited too long for a slot; retry later"
        worker.join(30)


def test_unreachable_postgres_answers_503(tmp_path: Path) -> None:
    from tests.conftest import free_port

    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    settings = make_settings(url)
    app = create_app(settings, engine=make_engine(url), migrate=False)
    with LiveServer(app) as server:
        resp = requests.post(f"{server.url}/v1/traces", data=BODY, headers=PB, timeout=30)
        assert resp.status_code == 503
        assert resp.headers["Retry-After"] == "2"
        assert requests.get(f"{server.url}/healthz", timeout=30).status_code == 503


def test_admission_says_when_ingestion_was_busy() -> None:
    import asyncio

    from collector.receive import Admission

    admission = Admission(concurrent=2, queued=2, timeout=1.0)

    async def one_export() -> list[bool]:
        seen = [admission.busy(within=60.0)]
        async with admission.slot():
            seen.append(admission.busy(within=0.0))
        seen += [admission.busy(within=60.0), admission.busy(within=0.0)]
        return seen

    # idle before, busy during, busy within a minute after, not busy right after with no margin
    assert asyncio.run(one_export()) == [False, True, True, False]
