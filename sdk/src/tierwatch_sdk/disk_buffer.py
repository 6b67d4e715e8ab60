"""A span exporter for senders that lose their network: spans wait on disk until it returns.

Every batch the span processor hands over is first written to a spool directory
as one OTLP protobuf ``ExportTraceServiceRequest`` file, then the spool is sent
oldest first over OTLP/HTTP. A file is deleted only after the receiver answers
2xx, so spans survive a lost network, an overloaded collector and a restart of
the process: a new exporter on the same directory sends what the old one kept.

Delivery is at least once: a crash between the 2xx and the delete sends that
file again, and the collector stores each (trace id, span id) once, so nothing
is counted twice. One exporter should own a directory at a time.

Answers are handled as the OTLP specification says, with one exception:
429, 502, 503, 504 and connection errors keep the file and retry with backoff
(honouring ``Retry-After``); other 4xx and 5xx answers can never succeed, so the
file is dropped and counted; 401 and 403 keep the file, because a wrong or
revoked token is fixed by the operator and a device's history should not be
lost for it.
"""

from __future__ import annotations

import gzip
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from email.utils import parsedate_to_datetime
from enum import Enum
from pathlib import Path

import requests
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "http://localhost:4318/v1/traces"
SUFFIX = ".otlp"
_RETRYABLE = frozenset({408, 429, 502, 503, 504})
_KEEP = frozenset({401, 403})


class _Outcome(Enum):
    DELIVERED = "delivered"
    REJECTED = "rejected"  # permanent: the file can never be accepted
    RETRY = "retry"


class DiskBufferingSpanExporter(SpanExporter):
    """Writes each batch of spans to ``directory`` and sends the directory's files when online.

    ``endpoint`` is the full OTLP/HTTP traces URL; ``headers`` are sent with every
    request (e.g. ``{"Authorization": "Bearer <token>"}``). ``is_online`` tells
    whether the network is up (from the platform's connectivity API); while it
    says no, nothing is tried, and when it turns back to yes the spool is sent at
    once. ``max_bytes`` bounds the spool: past it the oldest files are dropped.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        compression: bool = True,
        max_bytes: int = 64 * 1024 * 1024,
        is_online: Callable[[], bool] | None = None,
        fsync: bool = True,
        drain_seconds: float = 5.0,
        max_backoff: float = 60.0,
        session: requests.Session | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.endpoint = endpoint
        self._headers = {"Content-Type": "application/x-protobuf", **(headers or {})}
        if compression:
            self._headers["Content-Encoding"] = "gzip"
        self._compression = compression
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._is_online = is_online or (lambda: True)
        self._fsync = fsync
        self._drain_seconds = drain_seconds
        self._max_backoff = max_backoff
        self._session = session or requests.Session()
        self._write_lock = threading.RLock()  # _make_room removes files while writing
        self._send_lock = threading.Lock()
        self._last_sequence = 0
        self._backoff = 1.0
        self._retry_at = 0.0
        self._was_online = True
        self._shutdown = False
        self._sending: Path | None = None
        #: Spans the receiver acknowledged with 2xx since this exporter started.
        self.delivered_spans = 0
        #: Spans dropped: refused for good by the receiver, or pushed out by ``max_bytes``.
        self.dropped_spans = 0
        for leftover in self.directory.glob(".*.tmp"):
            leftover.unlink(missing_ok=True)  # a write the previous process did not finish
        files = self._files()
        self._bytes = sum(path.stat().st_size for path in files)
        self._pending = sum(self._span_count(path) for path in files)

    # -- what is waiting ---------------------------------------------------------------

    def _files(self) -> list[Path]:
        return sorted(self.directory.glob(f"*{SUFFIX}"))

    @staticmethod
    def _span_count(path: Path) -> int:
        return int(path.name.removesuffix(SUFFIX).split("-")[1])

    @property
    def pending_spans(self) -> int:
        """Spans kept on disk, not yet acknowledged by the receiver."""
        return self._pending

    @property
    def pending_batches(self) -> int:
        """Files kept on disk, one per batch the span processor exported."""
        return len(self._files())

    # -- SpanExporter ------------------------------------------------------------------

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Keep ``spans`` on disk, then send what the spool holds if the network is up."""
        if self._shutdown:
            log.warning("exporter is shut down; %d spans not kept", len(spans))
            return SpanExportResult.FAILURE
        if not spans:
            return SpanExportResult.SUCCESS
        body = encode_spans(spans).SerializeToString()
        try:
            self._write(body, len(spans))
        except OSError as exc:
            log.error("cannot keep %d spans in %s: %s", len(spans), self.directory, exc)
            return SpanExportResult.FAILURE
        self.send_pending(timeout=self._drain_seconds, wait_for_backoff=True)
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Try to send everything now (backoff ignored); True when the spool is empty."""
        return self.send_pending(timeout=timeout_millis / 1000)

    def shutdown(self) -> None:
        """Send what can be sent within the timeout; the rest stays on disk for the next start."""
        if self._shutdown:
            return
        self.send_pending(timeout=self._timeout, wait_for_backoff=True)
        self._shutdown = True
        self._session.close()

    # -- spool -------------------------------------------------------------------------

    def _write(self, body: bytes, count: int) -> None:
        with self._write_lock:
            self._make_room(len(body))
            sequence = max(time.time_ns(), self._last_sequence + 1)
            self._last_sequence = sequence
            name = f"{sequence:020d}-{count}{SUFFIX}"
            temporary = self.directory / f".{name}.tmp"
            with open(temporary, "wb") as handle:
                handle.write(body)
                if self._fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
            # A reader sees the whole file or none of it.
            os.replace(temporary, self.directory / name)
            self._bytes += len(body)
            self._pending += count

    def _make_room(self, size: int) -> None:
        if self._bytes + size <= self._max_bytes:
            return
        for path in self._files():
            if self._bytes + size <= self._max_bytes:
                break
            if path == self._sending:
                continue  # on its way to the receiver right now
            count = self._span_count(path)
            if self._remove(path):
                self.dropped_spans += count
                log.warning("spool %s is full: dropped %d oldest spans", self.directory, count)

    def _remove(self, path: Path) -> bool:
        """Delete one spool file; False when it was already gone."""
        with self._write_lock:
            try:
                size = path.stat().st_size
                path.unlink()
            except FileNotFoundError:
                return False
            self._bytes -= size
            self._pending -= self._span_count(path)
            return True

    # -- sending -----------------------------------------------------------------------

    def send_pending(self, *, timeout: float | None = None, wait_for_backoff: bool = False) -> bool:
        """Send the spool oldest first until it is empty, a send fails, or ``timeout`` passes.

        Returns True when nothing is left on disk. Nothing is tried while
        ``is_online`` says the network is down, or, with ``wait_for_backoff``,
        before the backoff after the last failure has passed.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._send_lock:
            online = self._is_online()
            if online and not self._was_online:
                self._backoff, self._retry_at = 1.0, 0.0  # reconnected: try at once
            self._was_online = online
            if not online or self._shutdown:
                return not self._files()
            if wait_for_backoff and time.monotonic() < self._retry_at:
                return not self._files()
            for path in self._files():
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                try:
                    body = path.read_bytes()
                except FileNotFoundError:
                    continue
                self._sending = path
                try:
                    outcome, retry_after = self._post(body, path.name)
                finally:
                    self._sending = None
                if outcome is _Outcome.RETRY:
                    self._retry_at = time.monotonic() + (retry_after or self._next_backoff())
                    return False
                count = self._span_count(path)
                if not self._remove(path):
                    continue
                if outcome is _Outcome.DELIVERED:
                    self.delivered_spans += count
                else:
                    self.dropped_spans += count
            self._backoff = 1.0
            return True

    def _next_backoff(self) -> float:
        delay = self._backoff * random.uniform(0.8, 1.2)
        self._backoff = min(self._backoff * 2, self._max_backoff)
        return delay

    def _post(self, body: bytes, name: str) -> tuple[_Outcome, float | None]:
        data = gzip.compress(body, compresslevel=6) if self._compression else body
        try:
            response = self._session.post(
                self.endpoint, data=data, headers=self._headers, timeout=self._timeout
            )
        except requests.RequestException as exc:
            log.debug("sending %s failed, will retry: %s", name, exc)
            return _Outcome.RETRY, None
        status = response.status_code
        if 200 <= status < 300:
            return _Outcome.DELIVERED, None
        if status in _RETRYABLE:
            log.debug("sending %s answered %d, will retry", name, status)
            return _Outcome.RETRY, _retry_after(response.headers.get("Retry-After"))
        if status in _KEEP:
            log.error("the receiver refused the token (%d); spans stay on disk", status)
            return _Outcome.RETRY, None
        log.error(
            "the receiver refused %s for good (%d): %s; dropped", name, status, response.text[:200]
        )
        return _Outcome.REJECTED, None


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), if given."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None
