"""What a receiver's answer to one OTLP/HTTP export means for the batch on disk.

| answer | verdict |
| --- | --- |
| 2xx | delivered; ``partial_success`` says how many spans it rejected |
| 400 | dropped: the batch is malformed and will never be accepted |
| 408, 429, 502, 503, 504, no connection | kept, retried after a backoff or ``Retry-After`` |
| 401, 403, 404, 405, 413, 415, any other | kept: configuration (token, URL, limit) fixes it |

The OTLP specification lets an exporter drop a batch on any answer it does not
retry; a device's history is worth more than that, so only 400, the one answer
that says the data itself is wrong, loses it. The spool's size and age limits
bound what waits for an operator.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import Enum
from http import HTTPStatus

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

#: Answers that say the receiver is busy or briefly unreachable.
TRANSIENT = frozenset({408, 429, 502, 503, 504})

_HINTS = {
    401: "the receiver refused the token: check the Authorization header "
    "(OTEL_EXPORTER_OTLP_HEADERS)",
    403: "the token may not send spans: check the Authorization header "
    "(OTEL_EXPORTER_OTLP_HEADERS)",
    404: "no OTLP traces receiver at this URL: check OTEL_EXPORTER_OTLP_ENDPOINT "
    "(a base URL; /v1/traces is appended) or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as given)",
    405: "this URL does not take POST: check OTEL_EXPORTER_OTLP_ENDPOINT "
    "(a base URL; /v1/traces is appended) or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as given)",
    413: "the batch is larger than the receiver takes: raise its limit or export smaller batches",
    415: "the receiver does not take OTLP protobuf: check the endpoint",
}


class Verdict(Enum):
    """What becomes of the batch on disk."""

    DELIVERED = "delivered"
    DROP = "drop"
    KEEP = "keep"


@dataclass(frozen=True)
class Answer:
    """One export's outcome: the verdict, why, and what the receiver said."""

    verdict: Verdict
    #: Why, in words, for the log; empty when delivered.
    cause: str = ""
    #: One key per distinct cause (the status code, or the connection error's class).
    cause_key: str = ""
    #: Seconds the receiver asked to wait (``Retry-After``).
    retry_after: float | None = None
    #: ``partial_success.rejected_spans`` of a 2xx answer.
    rejected_spans: int = 0
    #: ``partial_success.error_message`` of a 2xx answer.
    error_message: str = ""


def judge(
    status: int, body: bytes, content_type: str, retry_after: str | None, endpoint: str
) -> Answer:
    """The outcome of an HTTP answer with ``status``, ``body`` and its headers."""
    if 200 <= status < 300:
        rejected, message = partial_success(body, content_type)
        return Answer(Verdict.DELIVERED, rejected_spans=rejected, error_message=message)
    name = _status_name(status)
    if status == 400:
        detail = status_message(body, content_type)
        cause = f"{endpoint} answered {name}" + (f": {detail}" if detail else "")
        return Answer(Verdict.DROP, cause, str(status))
    if status in TRANSIENT:
        cause = f"{endpoint} answered {name}; retrying after a backoff"
    else:
        hint = _HINTS.get(status, "kept until the receiver or its configuration is fixed")
        cause = f"{endpoint} answered {name}: {hint}"
    return Answer(Verdict.KEEP, cause, str(status), parse_retry_after(retry_after))


def unreachable(error: Exception, endpoint: str) -> Answer:
    """The outcome of an export that got no answer (refused, reset, timed out, bad TLS)."""
    kind = type(error).__name__
    return Answer(Verdict.KEEP, f"cannot reach {endpoint} ({kind}): {error}", kind)


def partial_success(body: bytes, content_type: str) -> tuple[int, str]:
    """``rejected_spans`` and ``error_message`` of an ``ExportTraceServiceResponse`` body.

    The body is OTLP JSON when ``content_type`` says so, else protobuf; an empty
    or unreadable body rejects nothing.
    """
    response = ExportTraceServiceResponse()
    try:
        if _media_type(content_type) == "application/json":
            json_format.Parse(body or b"{}", response, ignore_unknown_fields=True)
        else:
            response.ParseFromString(body)
    except (DecodeError, json_format.ParseError, UnicodeDecodeError):
        return 0, ""
    partial = response.partial_success
    return int(partial.rejected_spans), str(partial.error_message)


def status_message(body: bytes, content_type: str) -> str:
    """The ``message`` of a ``google.rpc.Status`` error body, or "" when there is none."""
    try:
        if _media_type(content_type) == "application/json":
            decoded = json.loads(body)
            message = decoded.get("message", "") if isinstance(decoded, dict) else ""
        else:
            message = Status.FromString(body).message
    except (DecodeError, ValueError):
        return ""
    return str(message)[:500]


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), if given."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError):
            return None
        seconds = moment - (time.time() if now is None else now)
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _status_name(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)
