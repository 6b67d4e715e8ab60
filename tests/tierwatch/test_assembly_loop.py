"""The server assembles stored attempts into requests on its own, after ingestion quiets down."""

from __future__ import annotations

import time

import requests
from sqlalchemy import Engine, func, select

from collector.schema import REQUEST_QUEUE, REQUEST_ROLLUPS
from tests.conftest import LiveServer, make_settings
from tests.otlp import request, span
from tierwatch.app import create_app


def test_the_server_assembles_requests_on_its_own(db_url: str, engine: Engine) -> None:
    quick: dict[str, object] = {
        "collector.assembly_interval_seconds": 0.2,
        "collector.assembly_max_delay_seconds": 2,
    }
    settings = make_settings(db_url, **quick)
    body = request(
        [
            span(1, trace=1, attrs={"hybrid.attempt": 1}),
            span(2, trace=2, attrs={"hybrid.attempt": 1}),
        ]
    ).SerializeToString()
    with LiveServer(create_app(settings, engine=engine, migrate=False)) as server:
        answer = requests.post(
            f"{server.url}/v1/traces",
            data=body,
            headers={"Content-Type": "application/x-protobuf"},
            timeout=10,
        )
        assert answer.status_code == 200
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                total = conn.execute(select(func.sum(REQUEST_ROLLUPS.c.requests))).scalar()
                queued = conn.execute(select(func.count()).select_from(REQUEST_QUEUE)).scalar()
            if total == 2 and queued == 0:
                break
            time.sleep(0.1)
    # both requests, answered, and nothing left queued
    assert (total, queued) == (2, 0)
