"""The fleet's senders: one OpenTelemetry SDK pipeline per device and per edge or cloud node.

Each sender is what a real one would run: a ``TracerProvider`` with its own
resource (``device.id`` is a resource attribute, so every device has its own
provider), a ``BatchSpanProcessor`` and an OTLP/HTTP exporter. Devices use
:class:`tierwatch_sdk.DiskBufferingSpanExporter`, which keeps spans on disk
while the simulated device is offline; edge and cloud nodes, always connected,
use the SDK's standard ``OTLPSpanExporter``. Attempts are recorded with
:func:`tierwatch_sdk.record_attempt` at their simulated start and end times, so
a day of history takes seconds and still goes through the real SDK and
exporters.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import Tracer, set_span_in_context

from simulator import catalog
from simulator.fleet import Device
from simulator.router import PlannedRequest
from tierwatch_sdk import DiskBufferingSpanExporter, fleet_resource, record_attempt

TRACES_PATH = "/v1/traces"
#: Export requests the whole simulated fleet has in flight at once.
MAX_CONCURRENT_EXPORTS = 8


def traces_url(endpoint: str) -> str:
    """The traces URL for an endpoint given as a base URL or as the full ``.../v1/traces``."""
    url = endpoint.rstrip("/")
    return url if url.endswith(TRACES_PATH) else url + TRACES_PATH


class SeededIds(IdGenerator):
    """Trace and span ids from a seeded stream, so that a run with a seed is repeatable."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def generate_span_id(self) -> int:
        return self._rng.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self._rng.getrandbits(128) or 1


class _Tally:
    """Counts spans across exporter threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.handled = 0
        self.delivered = 0
        self.failed = 0

    def add(self, *, handled: int, delivered: int = 0, failed: int = 0) -> None:
        with self._lock:
            self.handled += handled
            self.delivered += delivered
            self.failed += failed


class _Counting(SpanExporter):
    """Passes batches to an exporter, at most a few at once fleet-wide, and counts the outcome."""

    def __init__(
        self, inner: SpanExporter, tally: _Tally, gate: threading.Semaphore, *, delivers: bool
    ) -> None:
        self._inner = inner
        self._tally = tally
        self._gate = gate
        self._delivers = delivers  # False when the inner exporter only keeps spans on disk

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._gate:
            result = self._inner.export(spans)
        ok = result is SpanExportResult.SUCCESS
        count = len(spans)
        self._tally.add(
            handled=count,
            delivered=count if ok and self._delivers else 0,
            failed=0 if ok else count,
        )
        return result

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self._inner.shutdown()


@dataclass(frozen=True)
class SenderStats:
    """What the senders did with the spans recorded so far."""

    recorded: int
    #: Handed by the batch processors to their exporters.
    handled: int
    #: Acknowledged by the receiver.
    delivered: int
    #: Kept on devices' disks, waiting for the network.
    on_disk: int
    #: Given up: refused for good, or exporters that failed after their retries.
    lost: int

    @property
    def queued(self) -> int:
        """Recorded but not yet handed to an exporter."""
        return self.recorded - self.handled


class Senders:
    """Every device's and node's provider, and the recording of planned requests as spans."""

    def __init__(
        self,
        devices: list[Device],
        *,
        fleet: str,
        environment: str,
        endpoint: str,
        token: str | None,
        spool_dir: Path,
        ids: IdGenerator,
    ) -> None:
        url = traces_url(endpoint)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._tally = _Tally()
        # A day squeezed into a minute would flood the receiver with hundreds of
        # exports at once; a real fleet's are spread over the day.
        gate = threading.Semaphore(MAX_CONCURRENT_EXPORTS)
        self._providers: list[TracerProvider] = []
        self._spools: list[DiskBufferingSpanExporter] = []
        self._device_tracers: dict[int, Tracer] = {}
        self._node_tracers: dict[str, Tracer] = {}
        self.recorded = 0
        for device in devices:
            spool = DiskBufferingSpanExporter(
                spool_dir / fleet / device.device_id,
                url,
                headers=headers,
                is_online=_connected(device),
                # Simulated devices share one disk; the OS page cache is durable enough here.
                fsync=False,
            )
            self._spools.append(spool)
            resource = fleet_resource(
                service_name=catalog.DEVICE_SERVICE,
                service_version=device.app_version,
                fleet=fleet,
                environment=environment,
                device_id=device.device_id,
                device_model=device.hardware.name,
                os_name=device.hardware.os_name,
                os_version=device.os_version,
                region=device.region.name,
            )
            exporter = _Counting(spool, self._tally, gate, delivers=False)
            self._device_tracers[device.index] = self._provider(
                resource, exporter, ids, queue=8192, batch=512
            )
        for node in catalog.NODES:
            resource = fleet_resource(
                service_name=catalog.EDGE_SERVICE if node.tier == "edge" else catalog.CLOUD_SERVICE,
                service_version=catalog.NODE_SERVICE_VERSION,
                fleet=fleet,
                environment=environment,
                device_model=node.hardware,
                os_name="Linux",
                region=node.region,
                node=node.name,
            )
            otlp = OTLPSpanExporter(endpoint=url, headers=headers, compression=Compression.Gzip)
            exporter = _Counting(otlp, self._tally, gate, delivers=True)
            self._node_tracers[node.name] = self._provider(
                resource, exporter, ids, queue=65536, batch=2048
            )

    def _provider(
        self,
        resource: Resource,
        exporter: SpanExporter,
        ids: IdGenerator,
        *,
        queue: int,
        batch: int,
    ) -> Tracer:
        provider = TracerProvider(resource=resource, id_generator=ids)
        provider.add_span_processor(
            BatchSpanProcessor(
                exporter,
                max_queue_size=queue,
                max_export_batch_size=batch,
                schedule_delay_millis=5000,
            )
        )
        self._providers.append(provider)
        return provider.get_tracer("simulator.router")

    def record(self, request: PlannedRequest) -> int:
        """Record a request's attempts as ``hybrid.inference`` spans; returns how many."""
        task = request.task.name
        parent: Context | None = None
        served: Context | None = None
        for plan in request.attempts:
            if plan.recorder == "device":
                tracer = self._device_tracers[request.device.index]
            else:
                tracer = self._node_tracers[plan.recorder]
            span = record_attempt(
                plan.tier,
                task,
                start_time=plan.start_ns,
                end_time=plan.end_ns,
                model=plan.model,
                version=plan.version,
                number=plan.number,
                route_reason=plan.route_reason,
                privacy=plan.privacy,
                network=plan.network,
                thermal=plan.thermal,
                quantization=plan.quantization,
                shadow=plan.shadow,
                confidence=plan.confidence,
                quality=plan.quality,
                energy_mj=plan.energy_mj,
                input_tokens=plan.input_tokens,
                output_tokens=plan.output_tokens,
                fallback_reason=plan.fallback_reason,
                error_type=plan.error_type,
                tracer=tracer,
                context=served if plan.shadow else parent,
            )
            if not plan.shadow:
                parent = served = set_span_in_context(span)
        self.recorded += len(request.attempts)
        return len(request.attempts)

    def stats(self) -> SenderStats:
        tally = self._tally
        return SenderStats(
            recorded=self.recorded,
            handled=tally.handled,
            delivered=tally.delivered + sum(s.delivered_spans for s in self._spools),
            on_disk=sum(s.pending_spans for s in self._spools),
            lost=tally.failed + sum(s.dropped_spans for s in self._spools),
        )

    def offline_devices_with_spans(self) -> int:
        """Devices whose disk still holds spans."""
        return sum(1 for s in self._spools if s.pending_spans)

    def flush(self) -> None:
        """Export everything recorded so far (offline devices keep theirs on disk)."""
        with ThreadPoolExecutor(max_workers=2 * MAX_CONCURRENT_EXPORTS) as pool:
            list(pool.map(TracerProvider.force_flush, self._providers))

    def shutdown(self) -> None:
        """Flush every processor and close the exporters; offline devices keep their spool."""
        # In parallel: each flush mostly waits for the receiver, and the gate bounds the load.
        with ThreadPoolExecutor(max_workers=2 * MAX_CONCURRENT_EXPORTS) as pool:
            list(pool.map(TracerProvider.shutdown, self._providers))


def _connected(device: Device) -> Callable[[], bool]:
    return lambda: device.connected
