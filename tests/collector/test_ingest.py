"""One export request through the ingestor, without HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import gzip
import pickle

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from sqlalchemy import Engine, select

from collector.ingest import Export, Ingestor
from collector.normalise import Normaliser
from collector.schema import ATTEMPTS
from collector.store import Store
from tests.otlp import request, span


def test_export_crosses_to_worker_processes_unchanged() -> None:
    export = Export(body=b"\x0a\x00", encoding="protobuf", gzip=True, fleet="f")
    # worker processes receive it pickled
    assert pickle.loads(pickle.dumps(export)) == export
    # and nothing on the way may change it
    with pytest.raises(dataclasses.FrozenInstanceError):
        export.fleet = "other"  # type: ignore[misc]


def test_gzip_export_is_stored_for_the_tokens_fleet(engine: Engine) -> None:
    ingestor = Ingestor(store=Store(engine), normaliser=Normaliser(), max_body_bytes=1 << 20)
    body = request(
        [span(1), span(2, attrs={"hybrid.tier": "moon"})], {"hybrid.fleet": "payload-fleet"}
    ).SerializeToString()
    outcome = ingestor.ingest(
        Export(body=gzip.compress(body), encoding="protobuf", gzip=True, fleet="token-fleet")
    )
    counts = (outcome.spans_received, outcome.stored, outcome.duplicates, outcome.rejected)
    assert counts == (2, 1, 0, 1)
    answer = ExportTraceServiceResponse.FromString(outcome.response)
    assert answer.partial_success.rejected_spans == 1
    with engine.connect() as conn:
        assert conn.execute(select(ATTEMPTS.c.fleet)).scalars().all() == ["token-fleet"]
