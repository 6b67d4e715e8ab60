"""What each OTLP/HTTP answer does to a spooled batch."""

from __future__ import annotations

import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

from tierwatch_sdk.answers import Answer, Verdict, judge, parse_retry_after, partial_success

URL = "http://tw/v1/traces"
PB = "application/x-protobuf"


@pytest.mark.parametrize(
    ("status", "body", "content_type", "retry_after", "expected"),
    [
        # stored, nothing rejected
        (200, b"", PB, None, Answer(Verdict.DELIVERED)),
        # malformed data: dropped, with the receiver's google.rpc.Status message
        (
            400,
            Status(code=3, message="not OTLP").SerializeToString(),
            PB,
            None,
            Answer(Verdict.DROP, f"{URL} answered 400 Bad Request: not OTLP", "400"),
        ),
        (
            400,
            b'{"code": 3, "message": "bad json"}',
            "application/json",
            None,
            Answer(Verdict.DROP, f"{URL} answered 400 Bad Request: bad json", "400"),
        ),
        # overload: kept, with the receiver's Retry-After
        (
            429,
            b"",
            PB,
            "7",
            Answer(
                Verdict.KEEP,
                f"{URL} answered 429 Too Many Requests; retrying after a backoff",
                "429",
                7.0,
            ),
        ),
        # a wrong token: kept, with a hint at the variable
        (
            401,
            b"",
            PB,
            None,
            Answer(
                Verdict.KEEP,
                f"{URL} answered 401 Unauthorized: the receiver refused the token: check the "
                "Authorization header (OTEL_EXPORTER_OTLP_HEADERS)",
                "401",
            ),
        ),
        # an answer with no hint: kept
        (
            500,
            b"",
            PB,
            None,
            Answer(
                Verdict.KEEP,
                f"{URL} answered 500 Internal Server Error: kept until the receiver or its "
                "configuration is fixed",
                "500",
            ),
        ),
    ],
)
def test_judge(
    status: int, body: bytes, content_type: str, retry_after: str | None, expected: Answer
) -> None:
    assert judge(status, body, content_type, retry_after, URL) == expected


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        # protobuf
        (
            ExportTraceServiceResponse(
                partial_success=ExportTracePartialSuccess(rejected_spans=2, error_message="why")
            ).SerializeToString(),
            PB,
            (2, "why"),
        ),
        # JSON, camelCase, int64 as a string
        (
            b'{"partialSuccess": {"rejectedSpans": "2", "errorMessage": "why"}}',
            "application/json",
            (2, "why"),
        ),
        # JSON with the proto field names, and unknown fields
        (b'{"partial_success": {"rejected_spans": 3}, "extra": 1}', "application/json", (3, "")),
        # an empty body, and one that is not a response at all
        (b"", PB, (0, "")),
        (b"<html>ok</html>", "text/html", (0, "")),
        (b"not json", "application/json", (0, "")),
    ],
)
def test_partial_success(body: bytes, content_type: str, expected: tuple[int, str]) -> None:
    assert partial_success(body, content_type) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30", 30.0),  # seconds
        ("Thu, 01 Jan 2026 00:01:00 GMT", 60.0),  # an HTTP date, from now
        ("Thu, 01 Jan 2026 00:00:00 GMT", 0.0),  # a date in the past: at once
        ("-5", 0.0),
        ("nan", None),
        ("soon", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=1767225600.0) == expected
