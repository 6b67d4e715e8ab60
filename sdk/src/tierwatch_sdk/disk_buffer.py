"""A span exporter for senders that lose their network: spans wait on disk until it returns.

Every batch the span processor hands over is first written to a spool directory
as one OTLP protobuf ``ExportTraceServiceRequest`` file, then the spool is sent
oldest first over OTLP/HTTP. A file is deleted only after the receiver answers
2xx, so spans survive a lost network, an overloaded collector and a restart of
the process: a new exporter on the same directory sends what the old one kept.

Delivery is at least once: a crash between the 2xx and the delete sends that
file again, and the collector stores each (trace id, span id) once, so nothing
is counted twice. One exporter should own a directory at a time.

Where to send comes from the arguments or the standard ``OTEL_EXPORTER_OTLP_*``
variables (:mod:`tierwatch_sdk.otlp_config`); the spans are encoded by the
OpenTelemetry OTLP exporter's own encoder. What each answer does to the file
is :mod:`tierwatch_sdk.answers`: only 400 drops it; answers that a fixed
configuration turns into a success (401, 403, 404, 405, 413, no connection)
keep it, and are logged once per distinct cause. The spool is bounded by size
and age; past either the oldest files are dropped, logged and counted.
"""

from __future__ import annotations

import gzip
import logging
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import requests
from opentelemetry import metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from tierwatch_sdk import answers, otlp_config
from tierwatch_sdk.answers import Answer, Verdict

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = otlp_config.DEFAULT_ENDPOINT
SUFFIX = ".otlp"
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_AGE = 7 * 24 * 3600.0

#: Why spans left the spool without being delivered, as counted in ``dropped``.
REFUSED = "refused"  # the receiver answered 400: the batch can never be accepted
SPOOL_FULL = "spool_full"  # pushed out by max_bytes
TOO_OLD = "too_old"  # older than max_age


class DiskBufferingSpanExporter(SpanExporter):
    """Writes each batch of spans to ``directory`` and sends the directory's files when online.

    ``endpoint`` is the full OTLP/HTTP traces URL, ``headers`` are sent with every
    request (e.g. ``{"Authorization": "Bearer <token>"}``), ``timeout`` is in
    seconds and ``compression`` is ``gzip`` or ``none``; each one left out comes
    from the standard ``OTEL_EXPORTER_OTLP_*`` variables (see
    :mod:`tierwatch_sdk.otlp_config`). ``is_online`` tells whether the network is
    up (from the platform's connectivity API); while it says no, nothing is
    tried, and when it turns back to yes the spool is sent at once.
    ``max_bytes`` and ``max_age`` (seconds) bound the spool: past either, the
    oldest files are dropped. Spans counts are reported to ``meter_provider``
    (default: the global one) as ``tierwatch_sdk.exporter.spans`` by ``outcome``.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        endpoint: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        compression: str | Compression | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_age: float = DEFAULT_MAX_AGE,
        is_online: Callable[[], bool] | None = None,
        fsync: bool = True,
        drain_seconds: float = 5.0,
        max_backoff: float = 60.0,
        session: requests.Session | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config = otlp_config.resolve(
            endpoint=endpoint, headers=headers, timeout=timeout, compression=compression
        )
        self.endpoint = self.config.endpoint
        self._headers = {"Content-Type": "application/x-protobuf", **self.config.headers}
        if self.config.compression == "gzip":
            self._headers["Content-Encoding"] = "gzip"
        self._max_bytes = max_bytes
        self._max_age_ns = int(max_age * 1e9)
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
        self._reported: set[str] = set()  # causes of kept files logged since the last delivery
        meter = (meter_provider or metrics.get_meter_provider()).get_meter("tierwatch_sdk")
        self._spans_counter = meter.create_counter(
            "tierwatch_sdk.exporter.spans",
            unit="{span}",
            description="Spans that left the spool, by outcome: delivered, rejected by the "
            "receiver (partial success), refused (400), spool_full, too_old",
        )
        #: Spans the receiver acknowledged with 2xx and did not reject, since this exporter started.
        self.delivered_spans = 0
        #: Spans the receiver answered 2xx for but rejected in ``partial_success``.
        self.rejected_spans = 0
        #: Spans that left the spool undelivered, by why: refused, spool_full, too_old.
        self.dropped: Counter[str] = Counter()
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

    @staticmethod
    def _written_ns(path: Path) -> int:
        """When the file was written: its name starts with the Unix time in nanoseconds."""
        return int(path.name.split("-")[0])

    @property
    def pending_spans(self) -> int:
        """Spans kept on disk, not yet acknowledged by the receiver."""
        return self._pending

    @property
    def pending_batches(self) -> int:
        """Files kept on disk, one per batch the span processor exported."""
        return len(self._files())

    @property
    def dropped_spans(self) -> int:
        """Spans that left the spool undelivered, for any reason."""
        return sum(self.dropped.values())

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
        self.send_pending(timeout=self.config.timeout, wait_for_backoff=True)
        self._shutdown = True
        self._session.close()

    # -- spool -------------------------------------------------------------------------

    def _write(self, body: bytes, count: int) -> None:
        with self._write_lock:
            sequence = max(time.time_ns(), self._last_sequence + 1)
            self._make_room(len(body), sequence)
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

    def _make_room(self, size: int, now_ns: int) -> None:
        """Drop files past ``max_age``, then the oldest until ``size`` more bytes fit."""
        for path in self._files():
            if path == self._sending:
                continue  # on its way to the receiver right now
            if self._expired(path, now_ns):
                self._drop(path, TOO_OLD)
            elif self._bytes + size > self._max_bytes:
                self._drop(path, SPOOL_FULL)
            else:
                break

    def _expired(self, path: Path, now_ns: int) -> bool:
        return now_ns - self._written_ns(path) > self._max_age_ns

    def _drop(self, path: Path, reason: str) -> None:
        """Delete one file that will not be delivered; log and count its spans."""
        count = self._span_count(path)
        with self._write_lock:  # the sending and the exporting thread both drop
            if not self._remove(path):
                return
            self.dropped[reason] += count
        self._spans_counter.add(count, {"outcome": reason})
        if reason == SPOOL_FULL:
            log.warning(
                "spool %s is full (max_bytes %d): dropped %d oldest spans",
                self.directory,
                self._max_bytes,
                count,
            )
        elif reason == TOO_OLD:
            log.warning(
                "spool %s: dropped %d spans older than max_age (%d s)",
                self.directory,
                count,
                self._max_age_ns // 1_000_000_000,
            )

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
        """Send the spool oldest first until it is empty, a file is kept, or ``timeout`` passes.

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
                if self._expired(path, time.time_ns()):
                    self._drop(path, TOO_OLD)
                    continue
                try:
                    body = path.read_bytes()
                except FileNotFoundError:
                    continue
                self._sending = path
                try:
                    answer = self._post(body)
                finally:
                    self._sending = None
                if answer.verdict is Verdict.KEEP:
                    self._kept(answer)
                    return False
                count = self._span_count(path)
                if answer.verdict is Verdict.DROP:
                    log.error("%s; dropped %d spans", answer.cause, count)
                    self._drop(path, REFUSED)
                elif self._remove(path):
                    self._delivered(count, answer)
            self._backoff = 1.0
            return True

    def _kept(self, answer: Answer) -> None:
        """The file stays: log why once per distinct cause, and wait before the next try."""
        if answer.cause_key not in self._reported:
            self._reported.add(answer.cause_key)
            log.warning("%s; spans kept in %s: %d", answer.cause, self.directory, self._pending)
        else:
            log.debug("%s", answer.cause)
        wait = answer.retry_after if answer.retry_after is not None else self._next_backoff()
        self._retry_at = time.monotonic() + wait

    def _delivered(self, count: int, answer: Answer) -> None:
        if self._reported:
            log.warning("%s accepts spans again", self.endpoint)
            self._reported.clear()
        rejected = min(answer.rejected_spans, count)
        if rejected:
            self.rejected_spans += rejected
            self._spans_counter.add(rejected, {"outcome": "rejected"})
            log.warning(
                "%s rejected %d of %d spans: %s",
                self.endpoint,
                rejected,
                count,
                answer.error_message or "(no message)",
            )
        self.delivered_spans += count - rejected
        self._spans_counter.add(count - rejected, {"outcome": "delivered"})

    def _next_backoff(self) -> float:
        delay = self._backoff * random.uniform(0.8, 1.2)
        self._backoff = min(self._backoff * 2, self._max_backoff)
        return delay

    def _post(self, body: bytes) -> Answer:
        """Send one spool file's body and judge the answer."""
        data = gzip.compress(body, compresslevel=6) if "Content-Encoding" in self._headers else body
        try:
            response = self._session.post(
                self.endpoint,
                data=data,
                headers=self._headers,
                timeout=self.config.timeout,
                verify=self.config.verify,
                cert=self.config.client_certificate,
                # A redirected POST may arrive as a GET; a moved receiver is configuration.
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            return answers.unreachable(exc, self.endpoint)
        return answers.judge(
            response.status_code,
            response.content,
            response.headers.get("Content-Type", ""),
            response.headers.get("Retry-After"),
            self.endpoint,
        )
