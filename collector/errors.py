"""The collector's errors, each knowing its HTTP status and whether a retry can help.

They are raised anywhere on the write path and translated to HTTP answers once,
in :mod:`collector.receive`. The docstring of each class is its default message.
"""

from __future__ import annotations


class IngestError(Exception):
    """The export request could not be processed."""

    status_code = 500
    #: True when the same request may succeed later (answered with Retry-After).
    retryable = False
    #: The reason code in the refused-request metric and the log summary.
    reason = "error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self)


class BadRequest(IngestError):
    """The body is not a valid OTLP ExportTraceServiceRequest."""

    status_code = 400
    reason = "bad_request"


class Unauthorized(IngestError):
    """A valid bearer token is required (Authorization: Bearer <token>)."""

    status_code = 401
    reason = "unauthorized"


class Forbidden(IngestError):
    """This token's role may not do this."""

    status_code = 403
    reason = "forbidden"


class PayloadTooLarge(IngestError):
    """The request body is larger than the collector accepts."""

    status_code = 413
    reason = "too_large"


class UnsupportedMediaType(IngestError):
    """Content-Type must be application/x-protobuf or application/json."""

    status_code = 415
    reason = "unsupported_type"


class Overloaded(IngestError):
    """The collector is at capacity; retry after the given delay."""

    status_code = 503
    reason = "overloaded"
    retryable = True


class QueueFull(IngestError):
    """Too many export requests are waiting; retry after the given delay."""

    status_code = 429
    reason = "queue_full"
    retryable = True


class StoreBusy(IngestError):
    """The database is busy or unreachable; nothing from this request was stored."""

    status_code = 503
    reason = "store_busy"
    retryable = True


class BodyTimeout(IngestError):
    """The request body did not arrive in time; send it again on a better connection."""

    status_code = 408
    reason = "body_timeout"


class TooManyReads(IngestError):
    """Too many request bodies are being received at once; retry after the given delay."""

    status_code = 503
    retryable = True
    reason = "too_many_reads"
