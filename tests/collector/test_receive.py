"""POST /v1/traces through the HTTP stack, on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

import pytest
from fastapi.testclient import TestClient
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from sqlalchemy import Engine, func, select

from collector.auth import create_token
from collector.schema import ATTEMPTS, ROLLUPS, SEGMENTS
from tests.conftest import make_settings
from tests.otlp import NOW_NS, request, span
from tierwatch.app import create_app

PB = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


def post_pb(client: TestClient, body: bytes, headers: dict[str, str] | None = None) -> Any:
    return client.post("/v1/traces", content=body, headers={**PB, **(headers or {})})


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_protobuf_export_is_stored_and_answered_in_protobuf(
    client: TestClient, engine: Engine
) -> None:
    resp = post_pb(client, request([span(1), span(2)]).SerializeToString())
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/x-protobuf"
    answer = ExportTraceServiceResponse.FromString(resp.content)
    assert not answer.HasField("partial_success")
    assert count(engine, ATTEMPTS) == 2


def test_gzip_body(client: TestClient, engine: Engine) -> None:
    body = gzip.compress(request([span(1)]).SerializeToString())
    resp = post_pb(client, body, {"Content-Encoding": "gzip"})
    assert resp.status_code == 200
    assert count(engine, ATTEMPTS) == 1


def test_partial_success_names_what_was_wrong(client: TestClient, engine: Engine) -> None:
    body = request(
        [span(1), span(2, attrs={"hybrid.tier": "moon"}), span(3, attrs={"hybrid.confidence": 7.0})]
    )
    resp = post_pb(client, body.SerializeToString())
    assert resp.status_code == 200
    answer = ExportTraceServiceResponse.FromString(resp.content)
    assert answer.partial_success.rejected_spans == 2
    assert answer.partial_success.error_message == (
        "rejected 2 of 3 spans: unknown hybrid.tier (must be device, edge or cloud) "
        "(1 span, first span_id 0000000000000003); hybrid.confidence outside 0..1 (1 span, first span_id 0000000000000004)"
    )
    assert count(engine, ATTEMPTS) == 1
    summary = client.get("/api/v1/summary").json()
    assert (summary["attempts"], summary["rejected"], summary["spans_received"]) == (1, 2, 3)


def test_json_export_with_hex_ids_and_string_int64(client: TestClient, engine: Engine) -> None:
    # Written by hand from the OTLP/HTTP JSON encoding rules.
    start = NOW_NS - 120_000_000_000
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": "robot"}},
                        {"key": "device.id", "value": {"stringValue": "r-1"}},
                        {"key": "device.model.identifier", "value": {"stringValue": "jetson-orin"}},
                    ]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "router"},
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "parentSpanId": "eee19b7ec3c1b173",
                                "name": "hybrid.inference",
                                "kind": 1,
                                "startTimeUnixNano": str(start),
                                "endTimeUnixNano": str(start + 25_000_000),
                                "attributes": [
                                    {"key": "hybrid.tier", "value": {"stringValue": "edge"}},
                                    {"key": "hybrid.task", "value": {"stringValue": "grasp"}},
                                    {"key": "hybrid.attempt", "value": {"intValue": "2"}},
                                    {"key": "hybrid.confidence", "value": {"doubleValue": 0.75}},
                                    {"key": "hybrid.fallback", "value": {"boolValue": False}},
                                ],
                                "status": {"code": 2, "message": "boom"},
                                "unknownField": {"ignored": True},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    resp = client.post("/v1/traces", content=json.dumps(body), headers=JSON)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/json"
    assert resp.json() == {}
    with engine.connect() as conn:
        row = conn.execute(select(ATTEMPTS)).one()
    assert row.trace_id == bytes.fromhex("5b8efff798038103d269b633813fc60c")
    assert row.span_id == bytes.fromhex("eee19b7ec3c1b174")
    assert row.parent_span_id == bytes.fromhex("eee19b7ec3c1b173")
    assert (row.tier, row.task, row.attempt, row.confidence, row.error) == (
        "edge",
        "grasp",
        2,
        0.75,
        True,
    )
    assert (row.device_model, row.latency_ms, row.start_time_unix_nano) == (
        "jetson-orin",
        25.0,
        start,
    )


def test_json_partial_success_uses_camel_case_and_string_int64(client: TestClient) -> None:
    body = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "name": "hybrid.inference",
                                "startTimeUnixNano": str(NOW_NS),
                                "endTimeUnixNano": str(NOW_NS + 1),
                                "attributes": [
                                    {"key": "hybrid.task", "value": {"stringValue": "t"}}
                                ],
                            }
                        ]
                    }
                ]
            }
        ]
    }
    resp = client.post("/v1/traces", json=body)
    assert resp.json() == {
        "partialSuccess": {
            "rejectedSpans": "1",
            "errorMessage": "rejected 1 of 1 spans: missing hybrid.tier (1 span, first span_id eee19b7ec3c1b174)",
        }
    }


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        # truncated protobuf
        (
            request([span(1)]).SerializeToString()[:-7],
            PB,
            400,
            "body is not a valid protobuf ExportTraceServiceRequest",
        ),
        # JSON that is not JSON
        (b"{not json", JSON, 400, "body is not valid JSON"),
        # JSON of the wrong shape
        (
            b'{"resourceSpans": {"a": 1}}',
            JSON,
            400,
            "body is not a valid OTLP JSON ExportTraceServiceRequest: resourceSpans must be a list",
        ),
        # ids must be hex of the right length
        (
            json.dumps(
                {
                    "resourceSpans": [
                        {"scopeSpans": [{"spans": [{"traceId": "zz", "spanId": "00"}]}]}
                    ]
                }
            ).encode(),
            JSON,
            400,
            "traceId 'zz' is not hex",
        ),
        # a body that claims gzip but is not
        (b"plain", {**PB, "Content-Encoding": "gzip"}, 400, "request body is not valid gzip"),
        # unsupported content type
        (b"x", {"Content-Type": "text/plain"}, 415, "unsupported Content-Type 'text/plain'"),
        # unsupported content encoding
        (b"x", {**PB, "Content-Encoding": "br"}, 415, "unsupported Content-Encoding 'br'"),
    ],
)
def test_bad_bodies(
    client: TestClient,
    engine: Engine,
    body: bytes,
    headers: dict[str, str],
    status: int,
    message: str,
) -> None:
    resp = client.post("/v1/traces", content=body, headers=headers)
    assert resp.status_code == status
    if resp.headers["content-type"] == "application/x-protobuf":
        text = status_pb2.Status.FromString(resp.content).message
    else:
        text = resp.json()["message"]
    assert text.startswith(message), text
    assert count(engine, ATTEMPTS) == 0


def test_gzip_bomb_is_refused_without_inflating(db_url: str, engine: Engine) -> None:
    settings = make_settings(db_url, **{"collector.max_body_bytes": 1024 * 1024})
    app = create_app(settings, engine=engine, migrate=False)
    # 200 MiB of zeros compress to about 200 KiB
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = (
        b"".join(compressor.compress(b"\0" * (1024 * 1024)) for _ in range(200))
        + compressor.flush()
    )
    with TestClient(app) as client:
        resp = post_pb(client, bomb, {"Content-Encoding": "gzip"})
        assert resp.status_code == 413
        assert status_pb2.Status.FromString(resp.content).message == (
            "request body inflates to more than 1048576 bytes, the collector's limit"
        )
        # a raw body over the cap is refused from its Content-Length
        resp = post_pb(client, b"\0" * (1024 * 1024 + 1))
        assert resp.status_code == 413


def test_duplicates_are_stored_and_counted_once(client: TestClient, engine: Engine) -> None:
    body = request([span(1), span(2), span(2)]).SerializeToString()
    assert post_pb(client, body).status_code == 200
    assert post_pb(client, body).status_code == 200
    assert count(engine, ATTEMPTS) == 2
    with engine.connect() as conn:
        assert conn.execute(select(func.sum(ROLLUPS.c.attempts))).scalar_one() == 2
    summary = client.get("/api/v1/summary").json()
    assert (summary["attempts"], summary["duplicates"], summary["spans_received"]) == (2, 4, 6)


def test_late_span_lands_in_its_own_minute(client: TestClient, engine: Engine) -> None:
    six_hours_ago = NOW_NS - 6 * 3600 * 1_000_000_000
    assert (
        post_pb(
            client, request([span(1, start_ns=six_hours_ago), span(2)]).SerializeToString()
        ).status_code
        == 200
    )
    with engine.connect() as conn:
        minutes = sorted(conn.execute(select(ROLLUPS.c.minute, ROLLUPS.c.attempts)).all())
    assert minutes == [
        (six_hours_ago // 60_000_000_000 * 60, 1),
        ((NOW_NS - 60_000_000_000) // 60_000_000_000 * 60, 1),
    ]


def test_rollups_hold_exact_sums(client: TestClient, engine: Engine) -> None:
    minute_start = (NOW_NS // 60_000_000_000 - 3) * 60_000_000_000
    spans = [
        span(
            1,
            start_ns=minute_start + 1_000,
            latency_ms=20,
            attrs={"hybrid.confidence": 0.9, "hybrid.energy_mj": 5.0},
        ),
        span(
            2,
            start_ns=minute_start + 2_000,
            latency_ms=40,
            attrs={
                "hybrid.confidence": 0.3,
                "hybrid.fallback": True,
                "hybrid.fallback.reason": "low_confidence",
                "hybrid.attempt": 1,
            },
        ),
        span(
            3,
            trace=2,
            start_ns=minute_start + 3_000,
            latency_ms=400,
            error=True,
            attrs={
                "hybrid.tier": "cloud",
                "hybrid.attempt": 2,
                "hybrid.quality": 0.8,
                "hybrid.privacy": "sensitive",
            },
        ),
        span(
            4,
            start_ns=minute_start + 4_000,
            latency_ms=300,
            attrs={"hybrid.tier": "cloud", "hybrid.shadow": True, "hybrid.quality": 1.0},
        ),
    ]
    assert post_pb(client, request(spans).SerializeToString()).status_code == 200
    with engine.connect() as conn:
        rows = (
            conn.execute(
                select(SEGMENTS.c.tier, ROLLUPS)
                .join(SEGMENTS, SEGMENTS.c.id == ROLLUPS.c.segment_id)
                .order_by(SEGMENTS.c.tier, ROLLUPS.c.shadow)
            )
            .mappings()
            .all()
        )
    cloud, cloud_shadow, device = rows
    assert (
        device["attempts"],
        device["requests"],
        device["fallbacks"],
        device["fallback_low_confidence"],
    ) == (2, 2, 1, 1)
    assert (
        device["confidence_count"],
        device["confidence_sum"],
        device["energy_count"],
        device["energy_mj_sum"],
    ) == (2, 1.2, 1, 5.0)
    assert device["latency_ms_sum"] == 60.0
    assert json.loads(device["confidence_hist"]) == {"6": 1, "18": 1}
    assert (cloud["attempts"], cloud["requests"], cloud["errors"], cloud["cloud_escalations"]) == (
        1,
        0,
        1,
        1,
    )
    assert (
        cloud["sensitive"],
        cloud["privacy_violations"],
        cloud["quality_count"],
        cloud["quality_sum"],
    ) == (1, 1, 1, 0.8)
    assert (cloud_shadow["shadow"], cloud_shadow["attempts"], cloud_shadow["requests"]) == (
        True,
        1,
        0,
    )
    assert device["minute"] == minute_start // 1_000_000_000


def test_non_inference_spans_are_accepted_and_counted(client: TestClient, engine: Engine) -> None:
    resp = post_pb(client, request([span(1, name="GET /photos"), span(2)]).SerializeToString())
    assert resp.status_code == 200
    assert count(engine, ATTEMPTS) == 1
    assert client.get("/api/v1/summary").json()["other_spans"] == 1


def test_healthz_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    post_pb(client, request([span(1), span(2, attrs={"hybrid.tier": "x"})]).SerializeToString())
    text = client.get("/metrics").text
    lines = text.splitlines()
    assert "tierwatch_collector_spans_received_total 2.0" in lines
    assert "tierwatch_collector_spans_stored_total 1.0" in lines
    assert 'tierwatch_collector_spans_rejected_total{reason="unknown_tier"} 1.0' in lines
    # every reason is there from the start, at zero
    assert 'tierwatch_collector_spans_rejected_total{reason="missing_task"} 0.0' in lines
    assert "tierwatch_collector_request_duration_seconds_bucket" in text


# --- authentication ------------------------------------------------------------------------


@pytest.fixture
def secure_client(db_url: str, engine: Engine) -> Any:
    app = create_app(make_settings(db_url, dev=False), engine=engine, migrate=False)
    with TestClient(app) as client:
        yield client


def test_ingest_requires_a_token(secure_client: TestClient, engine: Engine) -> None:
    body = request([span(1)]).SerializeToString()
    resp = post_pb(secure_client, body)
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == 'Bearer realm="tierwatch"'
    assert post_pb(secure_client, body, {"Authorization": "Bearer tw_nope"}).status_code == 401
    read = create_token(engine, fleet="f", role="read")
    resp = post_pb(secure_client, body, {"Authorization": f"Bearer {read}"})
    assert resp.status_code == 403
    assert status_pb2.Status.FromString(resp.content).message == (
        "this token's role may not send traces; use an ingest token"
    )
    assert count(engine, ATTEMPTS) == 0


def test_token_fleet_overrides_payload_and_isolates_readers(
    secure_client: TestClient, engine: Engine
) -> None:
    ingest_a = create_token(engine, fleet="fleet-a", role="ingest")
    ingest_b = create_token(engine, fleet="fleet-b", role="ingest")
    read_a = create_token(engine, fleet="fleet-a", role="read")
    read_all = create_token(engine, fleet="*", role="admin")
    # fleet-b's device claims to be in fleet-a: the token decides
    spoof = request([span(1), span(2)], {"hybrid.fleet": "fleet-a"}).SerializeToString()
    assert post_pb(secure_client, spoof, {"Authorization": f"Bearer {ingest_b}"}).status_code == 200
    honest = request([span(3)]).SerializeToString()
    assert (
        post_pb(secure_client, honest, {"Authorization": f"Bearer {ingest_a}"}).status_code == 200
    )
    with engine.connect() as conn:
        fleets = sorted(conn.execute(select(ATTEMPTS.c.fleet)).scalars())
    assert fleets == ["fleet-a", "fleet-b", "fleet-b"]
    assert secure_client.get("/api/v1/summary").status_code == 401
    assert (
        secure_client.get(
            "/api/v1/summary", headers={"Authorization": f"Bearer {ingest_a}"}
        ).status_code
        == 403
    )
    mine = secure_client.get(
        "/api/v1/summary", headers={"Authorization": f"Bearer {read_a}"}
    ).json()
    assert (mine["attempts"], list(mine["fleets"])) == (1, ["fleet-a"])
    everything = secure_client.get(
        "/api/v1/summary", headers={"Authorization": f"Bearer {read_all}"}
    ).json()
    assert (everything["attempts"], list(everything["fleets"])) == (3, ["fleet-a", "fleet-b"])


def test_tokens_are_stored_hashed(engine: Engine) -> None:
    from collector.schema import TOKENS

    text = create_token(engine, fleet="f", role="ingest")
    with engine.connect() as conn:
        stored = conn.execute(select(TOKENS.c.token_hash)).scalar_one()
    assert text not in stored and len(stored) == 64
