"""Requests assembled from attempts that arrive apart, late, re-sent or in any order."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from collector import buckets
from collector.assemble import Assembler, assemble
from collector.normalise import Batch, Normaliser
from collector.request_state import RequestState
from collector.retention import NS_PER_DAY, expire_attempts
from collector.schema import (
    REQUEST_QUEUE,
    REQUEST_ROLLUPS,
    REQUESTS,
    SEGMENTS,
)
from collector.store import Store
from tests.otlp import request, span

MINUTE_NS = 60_000_000_000
# A minute boundary ten minutes ago.
T0 = (time.time_ns() // MINUTE_NS - 10) * MINUTE_NS
TRACE = 7


def _batch(*spans: Any, resource: dict[str, Any] | None = None) -> Batch:
    return Normaliser().normalise(
        request(list(spans), {"device.model.identifier": "pixel-8", **(resource or {})}),
        fleet="f",
        now_ns=time.time_ns(),
    )


def _device(start_ns: int, *, n: int = 1, trace: int = TRACE) -> Any:
    """A device attempt that fell back for low confidence after 40 ms."""
    return span(
        n,
        trace=trace,
        start_ns=start_ns,
        latency_ms=40.0,
        attrs={
            "hybrid.tier": "device",
            "hybrid.attempt": 1,
            "hybrid.fallback": True,
            "hybrid.fallback.reason": "low_confidence",
            "gen_ai.usage.input_tokens": 10,
        },
    )


def _cloud(start_ns: int, *, n: int = 2, trace: int = TRACE) -> Any:
    """The cloud attempt that answered in 200 ms, quality 0.75."""
    return span(
        n,
        trace=trace,
        start_ns=start_ns,
        latency_ms=200.0,
        attrs={
            "hybrid.tier": "cloud",
            "hybrid.attempt": 2,
            "hybrid.quality": 0.75,
            "gen_ai.usage.input_tokens": 12,
            "gen_ai.usage.output_tokens": 30,
        },
    )


def _rows(engine: Engine) -> dict[tuple[str, int], dict[str, Any]]:
    """Request rollups by (tier of the segment, minute), without the key columns."""
    query = select(SEGMENTS.c.tier, REQUEST_ROLLUPS).join(
        SEGMENTS, SEGMENTS.c.id == REQUEST_ROLLUPS.c.segment_id
    )
    with engine.connect() as conn:
        return {
            (row["tier"], row["minute"]): {
                k: v for k, v in row.items() if k not in ("tier", "segment_id", "minute")
            }
            for row in conn.execute(query).mappings()
        }


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _expected(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "requests": 1,
        "answered": 0,
        "failed": 0,
        "escalated": 0,
        "served_device": 0,
        "served_edge": 0,
        "served_cloud": 0,
        "attempts_sum": 1,
        "tiers_sum": 1,
        "latency_ms_sum": 0.0,
        "latency_hist": "{}",
        "quality_count": 0,
        "quality_sum": 0.0,
        "quality_sq_sum": 0.0,
        "input_tokens_sum": 0,
        "output_tokens_sum": 0,
    }
    return {**row, **changes}


#: The device fell back, the cloud answered: 50 ms after the device started, for 200 ms.
ESCALATED = _expected(
    answered=1,
    escalated=1,
    served_cloud=1,
    attempts_sum=2,
    tiers_sum=2,
    latency_ms_sum=250.0,
    latency_hist=buckets.encode({buckets.latency_bucket(250.0): 1}),
    quality_count=1,
    quality_sum=0.75,
    quality_sq_sum=0.5625,
    input_tokens_sum=22,
    output_tokens_sum=30,
)


def test_device_fallback_then_cloud_in_a_later_export(engine: Engine) -> None:
    store = Store(engine)
    start = T0 + 5 * 1_000_000_000
    store.write(_batch(_device(start)), received_ns=time.time_ns())
    assert assemble(engine, now_ns=time.time_ns()) == 1
    minute = T0 // 1_000_000_000
    # so far the request failed on the device
    assert _rows(engine) == {("device", minute): _expected(failed=1, input_tokens_sum=10)}
    cloud = _cloud(start + 50_000_000)
    store.write(_batch(cloud, resource={"hybrid.node": "cloud-1"}), received_ns=time.time_ns())
    assert assemble(engine, now_ns=time.time_ns()) == 1
    # one request, escalated, served by the cloud, 250 ms end to end
    assert _rows(engine) == {("device", minute): ESCALATED}
    assert (_count(engine, REQUESTS), _count(engine, REQUEST_QUEUE)) == (1, 0)
    # the same spans again, in one export: nothing is stored, queued or counted twice
    result = store.write(_batch(_device(start), cloud), received_ns=time.time_ns())
    assert (result.stored, result.duplicates) == (0, 2)
    assert assemble(engine, now_ns=time.time_ns()) == 0
    assert _rows(engine) == {("device", minute): ESCALATED}


@pytest.mark.parametrize("assemble_between", [True, False])
def test_cloud_attempt_arrives_before_the_first_one(engine: Engine, assemble_between: bool) -> None:
    store = Store(engine)
    # the device attempt starts 10 ms before a minute boundary; the cloud one after it
    start = T0 - 10_000_000
    store.write(_batch(_cloud(start + 50_000_000)), received_ns=time.time_ns())
    if assemble_between:
        assemble(engine, now_ns=time.time_ns())
        # known so far: a request that started in the cloud, in the later minute
        assert _rows(engine) == {
            ("cloud", T0 // 1_000_000_000): _expected(
                answered=1,
                served_cloud=1,
                latency_ms_sum=200.0,
                latency_hist=buckets.encode({buckets.latency_bucket(200.0): 1}),
                quality_count=1,
                quality_sum=0.75,
                quality_sq_sum=0.5625,
                input_tokens_sum=12,
                output_tokens_sum=30,
            )
        }
    store.write(_batch(_device(start)), received_ns=time.time_ns())
    assemble(engine, now_ns=time.time_ns())
    # the request moved to the first attempt's segment and minute; the cloud row is gone
    assert _rows(engine) == {("device", T0 // 1_000_000_000 - 60): ESCALATED}


def test_cloud_attempt_days_after_the_device_fell_back(engine: Engine) -> None:
    store = Store(engine)
    start = T0 - 3 * NS_PER_DAY
    store.write(_batch(_device(start)), received_ns=start + 1_000_000_000)
    assemble(engine, now_ns=start + 2_000_000_000)
    # a phone that was offline sends the cloud attempt's span three days later
    store.write(_batch(_cloud(start + 50_000_000)), received_ns=time.time_ns())
    assemble(engine, now_ns=time.time_ns(), retention_days=30)
    assert _rows(engine) == {("device", start // 1_000_000_000): ESCALATED}


def test_attempts_of_many_requests_in_one_pass_and_in_small_passes(engine: Engine) -> None:
    store = Store(engine)
    spans = []
    for trace in range(100, 130):
        start = T0 + trace * 1_000_000
        spans += [
            _device(start, n=2 * trace, trace=trace),
            _cloud(start + 50_000_000, n=2 * trace + 1, trace=trace),
        ]
    # half the requests answered on the device alone
    spans += [
        span(500 + t, trace=t, start_ns=T0, latency_ms=30.0, attrs={"hybrid.attempt": 1})
        for t in range(200, 230)
    ]
    store.write(_batch(*spans[::2]), received_ns=time.time_ns())
    store.write(_batch(*spans[1::2]), received_ns=time.time_ns())
    # passes of 7 queued attempts: a request's attempts fall into different passes
    assembler = Assembler(engine, batch=7)
    try:
        assert assembler.run(now_ns=time.time_ns()) == 90
    finally:
        assembler.close()
    rows = _rows(engine)
    minute = T0 // 1_000_000_000
    device = rows[("device", minute)]
    assert (device["requests"], device["answered"], device["failed"]) == (60, 60, 0)
    assert (device["escalated"], device["served_device"], device["served_cloud"]) == (30, 30, 30)
    assert device["attempts_sum"] == 90
    assert buckets.decode(device["latency_hist"]) == {
        buckets.latency_bucket(250.0): 30,
        buckets.latency_bucket(30.0): 30,
    }
    assert list(rows) == [("device", minute)]


def test_shadow_attempts_count_tokens_only(engine: Engine) -> None:
    store = Store(engine)
    shadow = span(
        9,
        trace=TRACE,
        start_ns=T0,
        latency_ms=300.0,
        attrs={"hybrid.tier": "cloud", "hybrid.shadow": True, "gen_ai.usage.output_tokens": 5},
    )
    store.write(_batch(shadow), received_ns=time.time_ns())
    assemble(engine, now_ns=time.time_ns())
    # a request known only by its shadow attempt is no request yet
    assert _rows(engine) == {}
    answered = span(1, trace=TRACE, start_ns=T0, latency_ms=30.0, attrs={"hybrid.attempt": 1})
    store.write(_batch(answered), received_ns=time.time_ns())
    assemble(engine, now_ns=time.time_ns())
    assert _rows(engine) == {
        ("device", T0 // 1_000_000_000): _expected(
            answered=1,
            served_device=1,
            latency_ms_sum=30.0,
            latency_hist=buckets.encode({buckets.latency_bucket(30.0): 1}),
            output_tokens_sum=5,
        )
    }


def test_requests_expire_with_attempts_and_their_rollups_stay(engine: Engine) -> None:
    now = time.time_ns()
    store = Store(engine)
    old = now - 40 * NS_PER_DAY
    store.write(_batch(_device(old)), received_ns=now)
    store.write(_batch(_device(T0, n=3, trace=8)), received_ns=now)
    assemble(engine, now_ns=now)
    from collector.retention import expire_requests

    assert expire_requests(engine, now_ns=now, retention_days=30) == 1
    with engine.connect() as conn:
        assert conn.execute(select(REQUESTS.c.trace_id)).scalars().all() == [
            (8).to_bytes(16, "big")
        ]
    assert len(_rows(engine)) == 2
    # an attempt of the expired request that comes now is not merged: it would count twice
    expire_attempts(engine, now_ns=now, retention_days=30)
    store.write(_batch(_cloud(old + 50_000_000)), received_ns=now)
    assert assemble(engine, now_ns=now, retention_days=30) == 0
    assert _count(engine, REQUEST_QUEUE) == 0
    assert _rows(engine)[("device", old // MINUTE_NS * 60)]["failed"] == 1


def test_request_state_has_the_columns_of_its_table() -> None:
    # the assembler writes a state as its row, field for column
    assert RequestState._fields == tuple(c.name for c in REQUESTS.columns)


def test_assemblers_racing_ingestion_count_each_request_once(engine: Engine) -> None:
    import threading

    store = Store(engine)
    stop = threading.Event()
    runs: list[int] = []

    def keep_assembling() -> None:
        assembler = Assembler(engine, batch=50)
        try:
            while not stop.is_set():
                runs.append(assembler.run(now_ns=time.time_ns()))
        finally:
            assembler.close()

    # two servers' loops, each with its own assembler, while the attempts arrive
    threads = [threading.Thread(target=keep_assembling) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        for trace in range(300, 340):
            start = T0 + trace * 1_000_000
            store.write(
                _batch(_cloud(start + 50_000_000, n=2 * trace + 1, trace=trace)),
                received_ns=time.time_ns(),
            )
            store.write(
                _batch(_device(start, n=2 * trace, trace=trace)), received_ns=time.time_ns()
            )
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    merged = sum(runs) + assemble(engine, now_ns=time.time_ns())
    assert merged == 80
    device = _rows(engine)[("device", T0 // 1_000_000_000)]
    assert (device["requests"], device["escalated"], device["attempts_sum"]) == (40, 40, 80)
    assert device["latency_hist"] == buckets.encode({buckets.latency_bucket(250.0): 40})
    assert ("cloud", T0 // 1_000_000_000) not in _rows(engine)


def test_each_ingest_transaction_queues_one_row_of_the_keys_it_stored(engine: Engine) -> None:
    from collector.writer import QUEUE_KEY

    store = Store(engine)
    start = T0 + 5 * 1_000_000_000
    store.write(_batch(_device(start), _cloud(start + 50_000_000)), received_ns=time.time_ns())
    # the device span again, with a new one: only the new one is queued
    store.write(_batch(_device(start), _device(T0, n=5, trace=9)), received_ns=time.time_ns())
    with engine.connect() as conn:
        rows = conn.execute(select(REQUEST_QUEUE.c.attempt_keys).order_by(REQUEST_QUEUE.c.id))
        queued = [list(QUEUE_KEY.iter_unpack(bytes(keys))) for (keys,) in rows]
    assert queued == [
        [
            (start, TRACE.to_bytes(16, "big"), (2).to_bytes(8, "big")),
            (start + 50_000_000, TRACE.to_bytes(16, "big"), (3).to_bytes(8, "big")),
        ],
        [(T0, (9).to_bytes(16, "big"), (6).to_bytes(8, "big"))],
    ]
