"""``POST /v1/traces``: the OTLP/HTTP receiver, and the one place errors become HTTP.

Each request is authenticated, admitted (a bounded number run at once and a
bounded number wait; the rest are told to retry) and read up to the size cap;
then :class:`collector.ingest.Ingestor` decodes, normalises and stores it, in a
worker thread or in an ingest worker process (:mod:`collector.workers`). The
answer is sent only after the transaction commits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Request, Response

from collector import decode
from collector.auth import Principal
from collector.errors import (
    BadRequest,
    Forbidden,
    IngestError,
    Overloaded,
    PayloadTooLarge,
    QueueFull,
)
from collector.ingest import Export, Ingestor, Outcome
from collector.telemetry import CollectorMetrics

log = logging.getLogger(__name__)

Authenticate = Callable[[str | None], Principal]


class Admission:
    """Bounds the export requests in progress and those waiting for a slot."""

    def __init__(self, *, concurrent: int, queued: int, timeout: float) -> None:
        self._slots = asyncio.Semaphore(concurrent)
        self._queued = queued
        self._waiting = 0
        self._timeout = timeout

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a processing slot, or raise :class:`Overloaded` when none comes in time."""
        if self._slots.locked():
            if self._waiting >= self._queued:
                raise QueueFull()
            self._waiting += 1
            try:
                await asyncio.wait_for(self._slots.acquire(), self._timeout)
            except TimeoutError as exc:
                raise Overloaded("export request waited too long for a slot; retry later") from exc
            finally:
                self._waiting -= 1
        else:
            await self._slots.acquire()
        try:
            yield
        finally:
            self._slots.release()


Ingest = Callable[[Export], Awaitable[Outcome]]


@dataclass
class Receiver:
    """Everything the trace route needs, built by the composition root.

    ``ingest`` processes an :class:`Export`: in a worker thread of this process,
    or in an ingest worker process (:mod:`collector.workers`).
    """

    ingest: Ingest
    authenticate: Authenticate
    metrics: CollectorMetrics
    admission: Admission
    max_body_bytes: int
    retry_after_seconds: int

    def record(self, outcome: Outcome) -> None:
        """Count one processed request in the collector's own metrics."""
        self.metrics.batch_size.record(outcome.spans_received)
        self.metrics.spans_received.add(outcome.spans_received)
        self.metrics.spans_stored.add(outcome.stored)
        self.metrics.spans_duplicate.add(outcome.duplicates)
        self.metrics.spans_rejected.add(outcome.rejected)
        self.metrics.attributes_dropped.add(outcome.dropped_attributes)


def in_thread(ingestor: Ingestor) -> Ingest:
    """Run ``ingestor`` in a worker thread of this process."""

    async def ingest(export: Export) -> Outcome:
        return await anyio.to_thread.run_sync(ingestor.ingest, export)

    return ingest


async def _read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError as exc:
            raise BadRequest("Content-Length is not a number") from exc
        if size > limit:
            raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    return bytes(chunks)


def build_router(receiver: Receiver) -> APIRouter:
    """The OTLP/HTTP trace route bound to ``receiver``."""
    router = APIRouter(tags=["collector"])

    @router.post(
        "/v1/traces",
        summary="Receive OTLP/HTTP traces",
        description=(
            "OTLP/HTTP trace export: `application/x-protobuf` or `application/json` "
            "(optionally `Content-Encoding: gzip`). Answers in the request's encoding; "
            "200 means every accepted span is committed; spans that break the telemetry "
            "contract are reported in `partial_success`."
        ),
        response_class=Response,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "description": "ExportTraceServiceRequest in the OTLP JSON encoding",
                            "properties": {
                                "resourceSpans": {"type": "array", "items": {"type": "object"}}
                            },
                        }
                    },
                },
            }
        },
        responses={
            200: {"description": "Stored (ExportTraceServiceResponse)"},
            400: {"description": "Undecodable body (google.rpc.Status)"},
            401: {"description": "Missing or unknown token"},
            403: {"description": "Token may not ingest"},
            413: {"description": "Body too large after decompression"},
            415: {"description": "Unsupported Content-Type or Content-Encoding"},
            429: {"description": "Too many requests waiting; see Retry-After"},
            503: {"description": "Overloaded or database busy; see Retry-After"},
        },
    )
    async def export_traces(
        request: Request,
        content_type: Annotated[str | None, Header()] = None,
        content_encoding: Annotated[str | None, Header()] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> Response:
        started = time.perf_counter()
        encoding: decode.Encoding = "json"
        status = 200
        try:
            # The encoding is known first so that even a 401 answers in the sender's encoding.
            unsupported: IngestError | None = None
            try:
                encoding = decode.media_type(content_type)
            except IngestError as exc:
                unsupported = exc
            principal = await anyio.to_thread.run_sync(receiver.authenticate, authorization)
            if not principal.may_ingest():
                raise Forbidden("this token's role may not send traces; use an ingest token")
            if unsupported is not None:
                raise unsupported
            gzip = decode.check_content_encoding(content_encoding)
            async with receiver.admission.slot():
                export = Export(
                    body=await _read_body(request, receiver.max_body_bytes),
                    encoding=encoding,
                    gzip=gzip,
                    fleet=principal.fleet,
                )
                outcome = await receiver.ingest(export)
            receiver.record(outcome)
            media = decode.PROTOBUF if encoding == "protobuf" else decode.JSON
            return Response(content=outcome.response, media_type=media)
        except IngestError as exc:
            status = exc.status_code
            return _error(exc, encoding, receiver.retry_after_seconds)
        finally:
            receiver.metrics.requests.add(1, {"http.response.status_code": status})
            receiver.metrics.request_duration.record(time.perf_counter() - started)

    return router


def _error(exc: IngestError, encoding: decode.Encoding, retry_after: int) -> Response:
    status = exc.status_code
    headers = {}
    if exc.retryable:
        headers["Retry-After"] = str(retry_after)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="tierwatch"'
    if status >= 500 or exc.retryable:
        log.warning("export refused (%s): %s", status, exc.message)
    media = decode.PROTOBUF if encoding == "protobuf" else decode.JSON
    return Response(
        content=decode.encode_status(status, exc.message, encoding),
        status_code=status,
        media_type=media,
        headers=headers,
    )
