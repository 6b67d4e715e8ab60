"""Decoding export bodies: content type and encoding, gzip, protobuf and OTLP JSON, answers."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from collector import decode
from collector.errors import IngestError
from tests.otlp import request, span

TRACE_HEX = "5b8efff798038103d269b633813fc60c"
SPAN_HEX = "eee19b7ec3c1b174"
PARENT_HEX = "eee19b7ec3c1b173"
LINK_TRACE_HEX = "0102030405060708090a0b0c0d0e0f10"
LINK_SPAN_HEX = "0102030405060708"


def library_error(parse: Callable[..., Any], *args: Any) -> str:
    """The message a parsing library raises for ``args``, which decode quotes after its own."""
    try:
        parse(*args)
    except Exception as exc:
        return str(exc)
    raise AssertionError("expected the library to refuse these arguments")


def json_body(document: Any) -> bytes:
    return json.dumps(document).encode()


def one_span(fields: dict[str, Any], *, resource_key: str = "resourceSpans") -> dict[str, Any]:
    """An OTLP JSON export document holding one span with ``fields``."""
    return {resource_key: [{"scopeSpans": [{"spans": [fields]}]}]}


@pytest.mark.parametrize(
    ("content_type", "encoding"),
    [
        # the two media types of OTLP/HTTP
        ("application/x-protobuf", "protobuf"),
        ("application/json", "json"),
        # parameters are ignored
        ("application/json; charset=utf-8", "json"),
        # media types are case-insensitive and may be padded
        (" Application/X-Protobuf ", "protobuf"),
    ],
)
def test_media_type(content_type: str, encoding: str) -> None:
    assert decode.media_type(content_type) == encoding


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        # no Content-Type at all
        (None, "unsupported Content-Type '(none)': use application/x-protobuf or application/json"),
        # an empty one is the same
        ("", "unsupported Content-Type '(none)': use application/x-protobuf or application/json"),
        # any other type, named in the answer lower-cased and without parameters
        (
            "Text/Plain; charset=utf-8",
            "unsupported Content-Type 'text/plain': use application/x-protobuf or application/json",
        ),
        # gRPC's protobuf type is not OTLP/HTTP's
        (
            "application/grpc",
            "unsupported Content-Type 'application/grpc': use application/x-protobuf or application/json",
        ),
    ],
)
def test_unsupported_media_type(content_type: str | None, message: str) -> None:
    with pytest.raises(IngestError) as raised:
        decode.media_type(content_type)
    assert (raised.value.status_code, raised.value.message) == (415, message)


@pytest.mark.parametrize(
    ("content_encoding", "gzipped"),
    [
        # no header: the body is as sent
        (None, False),
        # identity, named or empty
        ("identity", False),
        ("", False),
        # gzip, in any case and padding
        ("gzip", True),
        (" GZip ", True),
    ],
)
def test_content_encoding(content_encoding: str | None, gzipped: bool) -> None:
    assert decode.check_content_encoding(content_encoding) is gzipped


@pytest.mark.parametrize(
    ("content_encoding", "message"),
    [
        # brotli is not part of OTLP/HTTP
        ("br", "unsupported Content-Encoding 'br': use gzip or none"),
        # nor is zlib's raw deflate
        ("Deflate", "unsupported Content-Encoding 'deflate': use gzip or none"),
    ],
)
def test_unsupported_content_encoding(content_encoding: str, message: str) -> None:
    with pytest.raises(IngestError) as raised:
        decode.check_content_encoding(content_encoding)
    assert (raised.value.status_code, raised.value.message) == (415, message)


@pytest.mark.parametrize(
    ("body", "limit", "inflated"),
    [
        # a gzip body inflates to what was compressed
        (gzip.compress(b"hello, collector"), 100, b"hello, collector"),
        # exactly at the limit is accepted
        (gzip.compress(b"a" * 10), 10, b"a" * 10),
        # an empty payload, compressed
        (gzip.compress(b""), 10, b""),
        # larger than one inflation step (256 KiB)
        (gzip.compress(bytes(range(256)) * 4096), 1 << 20, bytes(range(256)) * 4096),
    ],
)
def test_inflate(body: bytes, limit: int, inflated: bytes) -> None:
    assert decode.inflate(body, limit=limit) == inflated


@pytest.mark.parametrize(
    ("body", "limit", "status", "message"),
    [
        # one byte over the limit once inflated
        (
            gzip.compress(b"a" * 10),
            9,
            413,
            "request body inflates to more than 9 bytes, the collector's limit",
        ),
        # a bomb stops at the limit, however far it would inflate
        (
            gzip.compress(bytes(8 << 20)),
            1 << 20,
            413,
            "request body inflates to more than 1048576 bytes, the collector's limit",
        ),
        # a body that is not gzip at all, with zlib's reason
        (
            b"plain",
            100,
            400,
            "request body is not valid gzip: " + library_error(zlib.decompress, b"plain", 31),
        ),
        # a stream cut short
        (
            gzip.compress(b"hello")[:-4],
            100,
            400,
            "request body is not valid gzip: the stream is truncated",
        ),
        # an empty body claimed to be gzip
        (b"", 100, 400, "request body is not valid gzip: the stream is truncated"),
        # bytes after the end of the stream
        (
            gzip.compress(b"hello") + b"xx",
            100,
            400,
            "request body is not valid gzip: data after the end of the stream",
        ),
        # so a second gzip member is refused too
        (
            gzip.compress(b"hello") + gzip.compress(b"again"),
            100,
            400,
            "request body is not valid gzip: data after the end of the stream",
        ),
    ],
)
def test_inflate_refuses(body: bytes, limit: int, status: int, message: str) -> None:
    with pytest.raises(IngestError) as raised:
        decode.inflate(body, limit=limit)
    assert (raised.value.status_code, raised.value.message) == (status, message)


def test_protobuf_body_round_trips() -> None:
    sent = request([span(1, attrs={"hybrid.confidence": 0.25}), span(2)])
    assert decode.decode_request(sent.SerializeToString(), "protobuf") == sent


@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        # an empty protobuf body is an empty export
        (b"", "protobuf"),
        # an empty JSON object is too
        (b"{}", "json"),
        # and an export without spans
        (b'{"resourceSpans": []}', "json"),
    ],
)
def test_empty_exports(body: bytes, encoding: decode.Encoding) -> None:
    assert decode.decode_request(body, encoding) == ExportTraceServiceRequest()


def test_otlp_json_fields() -> None:
    document = one_span(
        {
            "traceId": TRACE_HEX,
            "spanId": SPAN_HEX,
            "parentSpanId": PARENT_HEX,
            "name": "hybrid.inference",
            "kind": 1,
            "startTimeUnixNano": "1700000000000000001",
            "endTimeUnixNano": 1700000000000000002,
            "attributes": [{"key": "hybrid.attempt", "value": {"intValue": "2"}}],
            "status": {"code": 2},
            "links": [{"traceId": LINK_TRACE_HEX, "spanId": LINK_SPAN_HEX}],
            "someFutureField": {"ignored": True},
        }
    )
    decoded = decode.decode_request(json_body(document), "json")
    got = decoded.resource_spans[0].scope_spans[0].spans[0]
    # hex ids become bytes, in spans and in links
    assert (got.trace_id.hex(), got.span_id.hex(), got.parent_span_id.hex()) == (
        TRACE_HEX,
        SPAN_HEX,
        PARENT_HEX,
    )
    assert (got.links[0].trace_id.hex(), got.links[0].span_id.hex()) == (
        LINK_TRACE_HEX,
        LINK_SPAN_HEX,
    )
    # int64 as a string or a number; enums as integers
    assert (got.start_time_unix_nano, got.end_time_unix_nano) == (
        1700000000000000001,
        1700000000000000002,
    )
    assert (got.kind, got.status.code, got.attributes[0].value.int_value) == (1, 2, 2)
    assert got.name == "hybrid.inference"


@pytest.mark.parametrize(
    ("document", "trace_id", "span_id"),
    [
        # the protobuf field names are accepted as well as lowerCamelCase
        (
            {
                "resource_spans": [
                    {"scope_spans": [{"spans": [{"trace_id": TRACE_HEX, "span_id": SPAN_HEX}]}]}
                ]
            },
            TRACE_HEX,
            SPAN_HEX,
        ),
        # an empty id is left empty, for the normaliser to reject
        (one_span({"traceId": "", "spanId": SPAN_HEX}), "", SPAN_HEX),
        # a missing id likewise
        (one_span({"spanId": SPAN_HEX}), "", SPAN_HEX),
    ],
)
def test_otlp_json_ids(document: dict[str, Any], trace_id: str, span_id: str) -> None:
    got = (
        decode.decode_request(json_body(document), "json").resource_spans[0].scope_spans[0].spans[0]
    )
    assert (got.trace_id.hex(), got.span_id.hex()) == (trace_id, span_id)


_BAD_START = one_span({"startTimeUnixNano": "soon"})


@pytest.mark.parametrize(
    ("body", "encoding", "message"),
    [
        # protobuf that does not parse, with the parser's reason
        (
            b"\xff\xff",
            "protobuf",
            "body is not a valid protobuf ExportTraceServiceRequest: "
            + library_error(ExportTraceServiceRequest.FromString, b"\xff\xff"),
        ),
        # an empty JSON body
        (b"", "json", "body is not valid JSON: " + library_error(json.loads, b"")),
        # JSON that is not UTF-8
        (b"\xff", "json", "body is not valid JSON: " + library_error(json.loads, b"\xff")),
        # JSON nested beyond Python's recursion limit
        (
            b"[" * 100_000,
            "json",
            "body is not valid JSON: " + library_error(json.loads, b"[" * 100_000),
        ),
        # JSON that is not an object
        (b"[]", "json", "body must be a JSON object (an ExportTraceServiceRequest)"),
        (b'"text"', "json", "body must be a JSON object (an ExportTraceServiceRequest)"),
        # the list of resources is not a list
        (
            json_body({"resourceSpans": {"a": 1}}),
            "json",
            "body is not a valid OTLP JSON ExportTraceServiceRequest: resourceSpans must be a list",
        ),
        # a resource that is not an object
        (
            json_body({"resourceSpans": [1]}),
            "json",
            "body is not a valid OTLP JSON ExportTraceServiceRequest: expected an object",
        ),
        # nor is a span
        (
            json_body({"resourceSpans": [{"scopeSpans": [{"spans": ["span"]}]}]}),
            "json",
            "body is not a valid OTLP JSON ExportTraceServiceRequest: a span must be an object",
        ),
        # ids must be hex strings
        (json_body(one_span({"traceId": 5})), "json", "traceId must be a hex string"),
        (json_body(one_span({"spanId": "zz"})), "json", "spanId 'zz' is not hex"),
        # of the right length: 32 digits for a trace, 16 for a span
        (json_body(one_span({"traceId": "abcd"})), "json", "traceId must be 32 hex digits, got 4"),
        (
            json_body(one_span({"parentSpanId": TRACE_HEX})),
            "json",
            "parentSpanId must be 16 hex digits, got 32",
        ),
        # link ids are checked like span ids
        (json_body(one_span({"links": [{"spanId": "abc"}]})), "json", "spanId 'abc' is not hex"),
        # a value of the wrong type, with the JSON parser's reason
        (
            json_body(_BAD_START),
            "json",
            "body is not a valid OTLP JSON ExportTraceServiceRequest: "
            + library_error(json_format.ParseDict, _BAD_START, ExportTraceServiceRequest()),
        ),
    ],
)
def test_bad_bodies(body: bytes, encoding: decode.Encoding, message: str) -> None:
    with pytest.raises(IngestError) as raised:
        decode.decode_request(body, encoding)
    assert (raised.value.status_code, raised.value.message) == (400, message)


@pytest.mark.parametrize(
    ("response", "encoding", "encoded"),
    [
        # full success is an empty message
        (ExportTraceServiceResponse(), "json", b"{}"),
        (ExportTraceServiceResponse(), "protobuf", b""),
        # partial success in OTLP JSON: camelCase, int64 as a string
        (
            ExportTraceServiceResponse(
                partial_success=ExportTracePartialSuccess(rejected_spans=3, error_message="why")
            ),
            "json",
            b'{"partialSuccess": {"rejectedSpans": "3", "errorMessage": "why"}}',
        ),
        # and in protobuf
        (
            ExportTraceServiceResponse(
                partial_success=ExportTracePartialSuccess(rejected_spans=3, error_message="why")
            ),
            "protobuf",
            b"\n\x07\x08\x03\x12\x03why",
        ),
    ],
)
def test_encode_response(
    response: ExportTraceServiceResponse, encoding: decode.Encoding, encoded: bytes
) -> None:
    assert decode.encode_response(response, encoding) == encoded


@pytest.mark.parametrize(
    ("http_status", "encoding", "encoded"),
    [
        # 400 is gRPC INVALID_ARGUMENT (3)
        (400, "json", b'{"code": 3, "message": "bad"}'),
        # 413 and 429 are RESOURCE_EXHAUSTED (8)
        (413, "json", b'{"code": 8, "message": "bad"}'),
        (429, "json", b'{"code": 8, "message": "bad"}'),
        # 503 is UNAVAILABLE (14)
        (503, "json", b'{"code": 14, "message": "bad"}'),
        # a status without a mapping is UNKNOWN (2)
        (500, "json", b'{"code": 2, "message": "bad"}'),
        # the same google.rpc.Status in protobuf
        (401, "protobuf", b"\x08\x10\x12\x03bad"),
    ],
)
def test_encode_status(http_status: int, encoding: decode.Encoding, encoded: bytes) -> None:
    assert decode.encode_status(http_status, "bad", encoding) == encoded
