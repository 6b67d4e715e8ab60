"""``POST /v1/traces``: the OTLP/HTTP receiver, and the one place errors become HTTP.

Each request is authenticated, then its body is read, up to the size cap and
within a deadline (:class:`BodyReads`: a bounded number of bodies and bytes at
once; a body too slow is answered 408), and only then admitted (:class:`Admission`:
a bounded number run at once and a bounded number wait; the rest are told to
retry), so that slow senders never hold a processing slot. Then
:class:`collector.ingest.Ingestor` decodes, normalises and stores it, in a worker
thread or in an ingest worker process (:mod:`collector.workers`). The answer is
sent only after the transaction commits.
"""

from __future__ import annotations

import asyncio
import math
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
    BodyTimeout,
    Forbidden,
    IngestError,
    Overloaded,
    PayloadTooLarge,
    QueueFull,
    TooManyReads,
)
from collector.ingest import Export, Ingestor, Outcome
from collector.telemetry import CollectorMetrics

Authenticate = Callable[[str | None], Principal]


class Admission:
    """Bounds the export requests in progress and those waiting for a slot."""

    def __init__(self, *, concurrent: int, queued: int, timeout: float) -> None:
        self._slots = asyncio.Semaphore(concurrent)
        self._queued = queued
        self._waiting = 0
        self._timeout = timeout
        self._active = 0
        self._last_active = -math.inf

    def busy(self, *, within: float) -> bool:
        """Whether an export request was in progress at some moment of the last ``within`` s.

        Background work (request assembly) waits while ingestion is busy.
        """
        return self._active > 0 or time.monotonic() - self._last_active < within

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
        self._active += 1
        try:
            yield
        finally:
            self._active -= 1
            self._last_active = time.monotonic()
            self._slots.release()


class BodyReads:
    """Bounds the request bodies being received: how many at once, their bytes, their time.

    A body is read before its request is admitted, so a sender that trickles its
    body (a phone on a bad network, or a slowloris) holds one of ``concurrent``
    read slots and the bytes it sent, never a processing slot. Memory is bounded
    by ``max_buffered_bytes`` over every body read and not yet answered, whatever
    each one declares.
    """

    def __init__(
        self, *, concurrent: int, max_buffered_bytes: int, timeout: float, max_body_bytes: int
    ) -> None:
        self.concurrent = concurrent
        self.max_buffered_bytes = max_buffered_bytes
        self.timeout = timeout
        self.max_body_bytes = max_body_bytes
        self.reading = 0
        self.buffered = 0

    @asynccontextmanager
    async def body(self, request: Request) -> AsyncIterator[bytes]:
        """The raw body, read within the deadline; its bytes count until the block ends."""
        if self.reading >= self.concurrent:
            raise TooManyReads()
        self.reading += 1
        held = 0
        try:
            try:
                limit = self.max_body_bytes
                _check_declared_length(request, limit)
                chunks = bytearray()
                async with asyncio.timeout(self.timeout):
                    async for chunk in request.stream():
                        chunks += chunk
                        held += len(chunk)
                        self.buffered += len(chunk)
                        if len(chunks) > limit:
                            raise PayloadTooLarge(f"request body is larger than {limit} bytes")
                        if self.buffered > self.max_buffered_bytes:
                            raise TooManyReads(
                                "the collector holds too many request bodies; retry later"
                            )
            except TimeoutError as exc:
                raise BodyTimeout(
                    f"the request body did not arrive within {self.timeout:g} s; "
                    "send it again on a better connection"
                ) from exc
            finally:
                self.reading -= 1
            yield bytes(chunks)
        finally:
            self.buffered -= held


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
    reads: BodyReads
    retry_after_seconds: int


def in_thread(ingestor: Ingestor) -> Ingest:
    """Run ``ingestor`` in a worker thread of this process."""

    async def ingest(export: Export) -> Outcome:
        return await anyio.to_thread.run_sync(ingestor.ingest, export)

    return ingest


def _check_declared_length(request: Request, limit: int) -> None:
    """Refuse with 413 a body whose Content-Length already says it is over ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError as exc:
            raise BadRequest("Content-Length is not a number") from exc
        if size > limit:
            raise PayloadTooLarge(f"request body is larger than {limit} bytes")


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
            408: {"description": "Body not received within collector.body_timeout_seconds"},
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
        refused: str | None = None
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
            # The body first, then the slot: a slow sender must not hold a processing slot.
            async with receiver.reads.body(request) as body:
                export = Export(body=body, encoding=encoding, gzip=gzip, fleet=principal.fleet)
                async with receiver.admission.slot():
                    outcome = await receiver.ingest(export)
            receiver.metrics.record(outcome)
            media = decode.PROTOBUF if encoding == "protobuf" else decode.JSON
            return Response(content=outcome.response, media_type=media)
        except IngestError as exc:
            status, refused = exc.status_code, exc.reason
            return _error(exc, encoding, receiver.retry_after_seconds)
        finally:
            receiver.metrics.request(status, time.perf_counter() - started, refused)

    return router


def _error(exc: IngestError, encoding: decode.Encoding, retry_after: int) -> Response:
    status = exc.status_code
    headers = {}
    if exc.retryable:
        headers["Retry-After"] = str(retry_after)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="tierwatch"'
    if status == 408:
        # The rest of the body may still be on its way: the connection cannot be reused.
        headers["Connection"] = "close"
    # Refusals are logged as a periodic summary by the metrics, not one line each.
    media = decode.PROTOBUF if encoding == "protobuf" else decode.JSON
    return Response(
        content=decode.encode_status(status, exc.message, encoding),
        status_code=status,
        media_type=media,
        headers=headers,
    )
