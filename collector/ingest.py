"""One export body from bytes to committed rows: inflate, decode, normalise, store.

:class:`Ingestor` does it in the calling thread. :class:`collector.workers.WorkerPool`
runs the same thing in worker processes, so that decoding and validation, the
CPU-bound part, use every core. Either way the request is one :class:`Export`
and the answer is one :class:`Outcome`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

from collector import decode
from collector.normalise import Normaliser
from collector.store import Store


@dataclass(frozen=True, slots=True)
class Export:
    """One export request as the receiver read it: raw body, how to decode it, whose it is."""

    body: bytes
    encoding: decode.Encoding
    #: The body is gzip-compressed (``Content-Encoding: gzip``).
    gzip: bool
    #: The token's fleet; ``None`` lets the payload's ``hybrid.fleet`` decide.
    fleet: str | None


@dataclass(frozen=True)
class Outcome:
    """What one export request came to: the encoded answer and the counts behind it."""

    response: bytes
    spans_received: int
    stored: int
    duplicates: int
    rejected: int
    dropped_attributes: int
    #: Rejected spans by reason code (:data:`collector.normalise.REJECTION_REASONS`).
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    #: (fleet, dimension) -> stored attempts whose value was beyond the limit.
    folded_attempts: dict[tuple[str, str], int] = field(default_factory=dict)
    #: (fleet, dimension) -> distinct values this process folded for the first time.
    folded_values: dict[tuple[str, str], int] = field(default_factory=dict)


class Ingestor:
    """Processes export bodies with one store and normaliser."""

    def __init__(self, *, store: Store, normaliser: Normaliser, max_body_bytes: int) -> None:
        self.store = store
        self.normaliser = normaliser
        self.max_body_bytes = max_body_bytes

    def ingest(self, export: Export) -> Outcome:
        """Decode, validate and store one export request.

        The receiver has already refused a raw body over the cap; only what a gzip
        body inflates to is bounded here.
        """
        body = export.body
        if export.gzip:
            body = decode.inflate(body, limit=self.max_body_bytes)
        request = decode.decode_request(body, export.encoding)
        now_ns = time.time_ns()
        batch = self.normaliser.normalise(request, fleet=export.fleet, now_ns=now_ns)
        result = self.store.write(batch, received_ns=now_ns)
        response = ExportTraceServiceResponse()
        if batch.rejected:
            response.partial_success.CopyFrom(
                ExportTracePartialSuccess(
                    rejected_spans=batch.rejected, error_message=batch.rejection_message()
                )
            )
        return Outcome(
            response=decode.encode_response(response, export.encoding),
            spans_received=batch.spans_received,
            stored=result.stored,
            duplicates=result.duplicates,
            rejected=batch.rejected,
            dropped_attributes=batch.dropped_attributes,
            rejected_by_reason=dict(batch.rejected_by_code),
            folded_attempts=result.folded_attempts,
            folded_values=result.folded_values,
        )
