"""Malformed, truncated, oversized and compressed-bomb bodies never crash the collector."""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector import decode
from collector.errors import BadRequest, IngestError
from collector.normalise import Normaliser
from tests.otlp import request, span

VALID = request([span(1, attrs={"hybrid.confidence": 0.5}), span(2)]).SerializeToString()
FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=30,
)
otlp_keys = st.sampled_from(
    [
        "resourceSpans",
        "scopeSpans",
        "spans",
        "traceId",
        "spanId",
        "name",
        "attributes",
        "key",
        "value",
        "stringValue",
        "intValue",
        "doubleValue",
        "startTimeUnixNano",
        "endTimeUnixNano",
        "status",
        "code",
        "resource",
    ]
)
otlp_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet="0123456789abcdef", max_size=34),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(otlp_keys, children, max_size=5)
    ),
    max_leaves=40,
)


def _decode_and_normalise(body: bytes, encoding: decode.Encoding) -> None:
    try:
        message = decode.decode_request(body, encoding)
    except BadRequest:
        return
    Normaliser().normalise(message, fleet=None, now_ns=time.time_ns())


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_as_protobuf(body: bytes) -> None:
    _decode_and_normalise(body, "protobuf")


@FUZZ
@given(st.integers(0, len(VALID)), st.integers(0, len(VALID) - 1), st.integers(0, 255))
def test_truncated_and_flipped_protobuf(cut: int, position: int, byte: int) -> None:
    mutated = bytearray(VALID)
    mutated[position] = byte
    _decode_and_normalise(bytes(mutated[:cut]), "protobuf")


@FUZZ
@given(json_values)
def test_random_json(document: Any) -> None:
    _decode_and_normalise(json.dumps(document).encode(), "json")


@FUZZ
@given(otlp_like)
def test_otlp_shaped_json(document: Any) -> None:
    _decode_and_normalise(json.dumps({"resourceSpans": [document]}).encode(), "json")


@FUZZ
@given(st.binary(max_size=1024), st.integers(1, 4096))
def test_random_gzip(body: bytes, limit: int) -> None:
    for candidate in (body, gzip.compress(body), gzip.compress(body)[: len(body) // 2 + 10]):
        try:
            out = decode.inflate(candidate, limit=limit)
        except IngestError as exc:
            assert exc.status_code in (400, 413)
        else:
            assert len(out) <= limit


def test_bomb_memory_stays_bounded() -> None:
    import resource

    bomb = gzip.compress(b"\0" * (512 * 1024 * 1024), compresslevel=9)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        decode.inflate(bomb, limit=4 * 1024 * 1024)
    except IngestError as exc:
        assert exc.status_code == 413
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    # inflating stops at the 4 MiB cap, not at 512 MiB
    assert grown_mb < 64


@FUZZ
@given(
    body=st.binary(max_size=512),
    gzip_it=st.booleans(),
    content_type=st.sampled_from(
        [
            "application/x-protobuf",
            "application/json",
            "application/json; charset=utf-8",
            "text/plain",
            "",
        ]
    ),
)
def test_http_never_answers_5xx(
    client: TestClient, body: bytes, gzip_it: bool, content_type: str
) -> None:
    headers = {"Content-Type": content_type}
    if gzip_it:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    resp = client.post("/v1/traces", content=body, headers=headers)
    assert resp.status_code in (200, 400, 415), resp.text


@schemathesis.serializer("application/x-protobuf")
def _protobuf(ctx: Any, value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def test_openapi_schema_fuzzing(client: TestClient) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    failures = []
    calls: dict[str, int] = {}
    for operation in schema.get_all_operations():
        strategy = operation.ok().as_strategy()

        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def check(case: Any) -> None:
            response = case.call()
            calls[case.path] = calls.get(case.path, 0) + 1
            if response.status_code >= 500:
                failures.append((case.method, case.path, response.status_code))

        check()
    assert failures == []
    # every operation was exercised
    assert {"/v1/traces", "/api/v1/summary", "/healthz", "/metrics"} <= set(calls)
    assert calls["/v1/traces"] >= 30
