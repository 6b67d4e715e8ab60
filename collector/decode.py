"""Decode an OTLP/HTTP trace export body: content type, gzip, protobuf or JSON.

Follows the OTLP/HTTP specification: binary protobuf (``application/x-protobuf``)
or the OTLP JSON mapping (``application/json``: lowerCamelCase or original field
names, trace and span ids as hex, enums as integers, 64-bit integers as strings or
numbers, unknown fields ignored). Bodies may be gzip-compressed; they are inflated
incrementally and refused as soon as they pass the size cap, so a compression
bomb never occupies more memory than the cap.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any, Literal

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from collector.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

Encoding = Literal["protobuf", "json"]
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_CHUNK = 256 * 1024
#: gRPC status codes used in google.rpc.Status bodies, by HTTP status.
_GRPC_CODES = {400: 3, 401: 16, 403: 7, 413: 8, 415: 3, 429: 8, 503: 14}


def media_type(content_type: str | None) -> Encoding:
    """The encoding named by a Content-Type header, or :class:`UnsupportedMediaType`."""
    base = (content_type or "").split(";", 1)[0].strip().lower()
    if base == PROTOBUF:
        return "protobuf"
    if base == JSON:
        return "json"
    raise UnsupportedMediaType(
        f"unsupported Content-Type {base or '(none)'!r}: use {PROTOBUF} or {JSON}"
    )


def check_content_encoding(content_encoding: str | None) -> bool:
    """Whether the body is gzip-compressed; other encodings are refused with 415."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "gzip":
        return True
    if encoding in ("identity", ""):
        return False
    raise UnsupportedMediaType(f"unsupported Content-Encoding {encoding!r}: use gzip or none")


def inflate(data: bytes, *, limit: int) -> bytes:
    """Decompress a gzip body, refusing it with 413 once it inflates past ``limit`` bytes."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = bytearray()
    pending = data
    try:
        while pending:
            # max_length bounds every step, so memory never exceeds the cap plus one chunk.
            out += inflater.decompress(pending, _CHUNK)
            if len(out) > limit:
                raise PayloadTooLarge(
                    f"request body inflates to more than {limit} bytes, the collector's limit"
                )
            pending = inflater.unconsumed_tail
        out += inflater.flush()
    except zlib.error as exc:
        raise BadRequest(f"request body is not valid gzip: {exc}") from exc
    if len(out) > limit:
        raise PayloadTooLarge(
            f"request body inflates to more than {limit} bytes, the collector's limit"
        )
    if not inflater.eof:
        raise BadRequest("request body is not valid gzip: the stream is truncated")
    if inflater.unused_data:
        raise BadRequest("request body is not valid gzip: data after the end of the stream")
    return bytes(out)


def decode_request(data: bytes, encoding: Encoding) -> ExportTraceServiceRequest:
    """Parse an export request body, raising :class:`BadRequest` with the reason."""
    if encoding == "protobuf":
        request = ExportTraceServiceRequest()
        try:
            request.ParseFromString(data)
        except DecodeError as exc:
            raise BadRequest(
                f"body is not a valid protobuf ExportTraceServiceRequest: {exc}"
            ) from exc
        return request
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise BadRequest("body must be a JSON object (an ExportTraceServiceRequest)")
    try:
        _hex_ids_to_base64(document)
        parsed: ExportTraceServiceRequest = json_format.ParseDict(
            document, ExportTraceServiceRequest(), ignore_unknown_fields=True
        )
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise BadRequest(f"body is not a valid OTLP JSON ExportTraceServiceRequest: {exc}") from exc
    return parsed


_ID_FIELDS = {
    "traceId": 16,
    "trace_id": 16,
    "spanId": 8,
    "span_id": 8,
    "parentSpanId": 8,
    "parent_span_id": 8,
}


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    """Rewrite OTLP JSON's hex ids into the base64 that the protobuf JSON parser expects."""
    for resource_spans in _list(document, "resourceSpans", "resource_spans"):
        for scope_spans in _list(resource_spans, "scopeSpans", "scope_spans"):
            for span in _list(scope_spans, "spans"):
                _convert_ids(span)
                for link in _list(span, "links"):
                    _convert_ids(link)


def _list(parent: Any, *keys: str) -> list[Any]:
    if not isinstance(parent, dict):
        raise BadRequest(
            "body is not a valid OTLP JSON ExportTraceServiceRequest: expected an object"
        )
    for key in keys:
        value = parent.get(key)
        if value is not None:
            if not isinstance(value, list):
                raise BadRequest(
                    f"body is not a valid OTLP JSON ExportTraceServiceRequest: {key} must be a list"
                )
            return value
    return []


def _convert_ids(span: Any) -> None:
    if not isinstance(span, dict):
        raise BadRequest(
            "body is not a valid OTLP JSON ExportTraceServiceRequest: a span must be an object"
        )
    for key, size in _ID_FIELDS.items():
        value = span.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise BadRequest(f"{key} must be a hex string")
        try:
            raw = bytes.fromhex(value)
        except ValueError as exc:
            raise BadRequest(f"{key} {value[:40]!r} is not hex") from exc
        if len(raw) != size:
            raise BadRequest(f"{key} must be {size * 2} hex digits, got {len(value)}")
        span[key] = base64.b64encode(raw).decode("ascii")


def encode_response(response: ExportTraceServiceResponse, encoding: Encoding) -> bytes:
    """Serialise an export response in the request's encoding."""
    # The protobuf classes are untyped here, so their results are named as what they are.
    if encoding == "protobuf":
        data: bytes = response.SerializeToString()
        return data
    text: str = json_format.MessageToJson(response, indent=None)
    return text.encode()


def encode_status(http_status: int, message: str, encoding: Encoding) -> bytes:
    """A ``google.rpc.Status`` error body in the request's encoding."""
    status = status_pb2.Status(code=_GRPC_CODES.get(http_status, 2), message=message)
    if encoding == "protobuf":
        data: bytes = status.SerializeToString()
        return data
    text: str = json_format.MessageToJson(status, indent=None)
    return text.encode()
