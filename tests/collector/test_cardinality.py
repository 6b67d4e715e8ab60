"""Cardinality limits: values beyond a fleet's limit are stored as ``__other__`` and counted."""

from __future__ import annotations

import logging
import time

import pytest
import requests
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from sqlalchemy import Engine, func, select

from collector.cardinality import DEFAULT_MAX_VALUES, OVERFLOW, ValueLimits
from collector.normalise import Normaliser
from collector.schema import ATTEMPTS, SEGMENTS, VALUE_OVERFLOW
from collector.store import Store
from tests.conftest import LiveServer, make_settings
from tests.otlp import attributes, request, span
from tests.tierwatch.test_metrics import values
from tierwatch.app import create_app

PB = {"Content-Type": "application/x-protobuf"}


def _body(first: int, count: int, *, fleet: str = "acme") -> bytes:
    """One export request of ``count`` senders, each with a device model of its own."""
    export = ExportTraceServiceRequest()
    for n in range(first, first + count):
        resource_spans = export.resource_spans.add()
        resource_spans.resource.attributes.extend(
            attributes({"hybrid.fleet": fleet, "device.model.identifier": f"build-{n}"})
        )
        resource_spans.scope_spans.add().spans.append(span(n))
    return export.SerializeToString()


def _distinct(engine: Engine, dimension: str, fleet: str = "acme") -> set[str]:
    column = SEGMENTS.c[dimension]
    with engine.connect() as conn:
        query = select(column).distinct().where(SEGMENTS.c.fleet == fleet)
        return {value for (value,) in conn.execute(query)}


def test_fifty_thousand_device_models_through_two_servers(
    db_url: str, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(db_url)
    first = create_app(settings, engine=engine, migrate=False)
    second = create_app(settings, engine=engine, migrate=False)
    limit = DEFAULT_MAX_VALUES["device_model"]
    caplog.set_level(logging.WARNING, logger="collector")
    with LiveServer(first) as one, LiveServer(second) as two:
        # 10 bodies of 5,000 senders, alternating between two servers on one database.
        for k in range(10):
            server = one if k % 2 == 0 else two
            answer = requests.post(
                f"{server.url}/v1/traces", data=_body(1 + k * 5_000, 5_000), headers=PB, timeout=120
            )
            assert answer.status_code == 200, answer.text
        first.state.metrics.flush_logs()
        summary = requests.get(f"{one.url}/api/v1/summary", timeout=30).json()
        scraped = [values(requests.get(f"{s.url}/metrics", timeout=30).text) for s in (one, two)]
        first.state.metrics.shutdown()
        second.state.metrics.shutdown()

    stored = _distinct(engine, "device_model")
    # exactly the limit of real values, plus the one overflow segment
    assert len(stored - {OVERFLOW}) == limit
    assert OVERFLOW in stored
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(SEGMENTS)).scalar_one() == limit + 1
        folded_rows = conn.execute(
            select(func.count()).where(ATTEMPTS.c.device_model == OVERFLOW)
        ).scalar_one()
    assert folded_rows == 50_000 - limit

    folded = {"attempts": 48_000, "distinct_values": 48_000, "limit": limit}
    assert summary["attempts"] == 50_000
    assert summary["fleets"]["acme"]["folded"] == {"device_model": folded}
    # summed over fleets, where no one limit applies
    assert summary["folded"] == {"device_model": {**folded, "limit": None}}
    assert summary["warnings"] == [
        "fleet acme: device_model reached its limit of 2,000 distinct values; 48,000 attempts "
        "with 48,000 other values were stored as __other__"
    ]
    name = 'tierwatch_collector_attempts_folded_total{dimension="device_model"}'
    assert sum(s[name] for s in scraped) == 48_000
    distinct_name = 'tierwatch_collector_distinct_values_folded_total{dimension="device_model"}'
    assert sum(s[distinct_name] for s in scraped) == 48_000
    assert (
        sum(s['tierwatch_collector_attempts_folded_total{dimension="task"}'] for s in scraped) == 0
    )
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("folded")]
    assert lines and all("fleet acme device_model" in line for line in lines)
    # bounded: one line per interval and server, not one per request
    assert len(lines) < 10


def _write(store: Store, spans: list[object], resource: dict[str, object], fleet: str) -> object:
    batch = Normaliser().normalise(
        request(spans, resource),  # type: ignore[arg-type]
        fleet=fleet,
        now_ns=time.time_ns(),
    )
    return store.write(batch, received_ns=time.time_ns())


def test_limits_per_fleet_dimension_and_reserved_values(engine: Engine) -> None:
    limits = ValueLimits({None: {"task": 2}, "big": {"task": 3}})
    store = Store(engine, limits=limits)
    tasks = ["a", "b", "c", "d"]
    for k, fleet in enumerate(("small", "big")):
        for n, task in enumerate(tasks, start=1):
            _write(store, [span(100 * k + n, attrs={"hybrid.task": task})], {}, fleet)
    # the default limit for one fleet, its own override for the other
    assert _distinct(engine, "task", "small") == {"a", "b", OVERFLOW}
    assert _distinct(engine, "task", "big") == {"a", "b", "c", OVERFLOW}
    # a folded value sent again is counted as an attempt, not as a new distinct value
    result = _write(store, [span(10, attrs={"hybrid.task": "d"})], {}, "small")
    assert result.folded_attempts == {("small", "task"): 1}  # type: ignore[attr-defined]
    assert result.folded_values == {}  # type: ignore[attr-defined]
    # a re-sent span is stored once, and folded once
    again = _write(store, [span(10, attrs={"hybrid.task": "d"})], {}, "small")
    assert again.folded_attempts == {}  # type: ignore[attr-defined]
    # a sender's own "__other__" and an absent model are not new values
    _write(store, [span(20, attrs={"hybrid.task": OVERFLOW})], {}, "small")
    with engine.connect() as conn:
        rows = {(f, d): (a, v) for f, d, a, v, _ in conn.execute(select(VALUE_OVERFLOW)).all()}
    assert rows == {("small", "task"): (3, 2), ("big", "task"): (1, 1)}


def test_a_new_collector_process_respects_what_is_stored(engine: Engine) -> None:
    limits = {None: {"device_model": 2}}
    first = Store(engine, limits=ValueLimits(limits))
    for n, model in enumerate(["m1", "m2"], start=1):
        _write(first, [span(n)], {"device.model.identifier": model}, "f")
    # a second process knows nothing yet: it reads the stored values, admits m1, folds m3
    second = Store(engine, limits=ValueLimits(limits))
    _write(second, [span(5), span(6)], {"device.model.identifier": "m3"}, "f")
    _write(second, [span(7)], {"device.model.identifier": "m1"}, "f")
    assert _distinct(engine, "device_model", "f") == {"m1", "m2", OVERFLOW}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        # a dimension that has no limit
        ({"collector.max_values": {"tier": 3}}, "unknown dimension 'tier'"),
        # a limit must allow one value
        (
            {"collector.fleet_max_values": {"f": {"task": 0}}},
            "the limit of task must be at least 1",
        ),
    ],
)
def test_bad_limits_are_named(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(Exception, match=message):
        make_settings("sqlite://", **overrides)


def test_keys_given_keep_the_other_defaults() -> None:
    settings = make_settings("sqlite://", **{"collector.max_values": {"task": 50}})
    assert settings.collector.max_values == {**DEFAULT_MAX_VALUES, "task": 50}


def test_summary_of_a_fleet_token_shows_its_own_folds(client: TestClient) -> None:
    body = _body(1, 3, fleet="f")
    assert client.post("/v1/traces", content=body, headers=PB).status_code == 200
    assert client.get("/api/v1/summary").json()["folded"] == {}
