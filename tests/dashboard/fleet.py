"""A fleet with a known degradation, sent through the real collector (``POST /v1/traces``).

A day of baseline ending an hour ago, then the window: the last hour. Fleet
``shop`` runs model ``tagger`` for task ``photo-tag`` on pixel-7 and galaxy-a14
phones, an edge node and the cloud. In the window half of the galaxies move to
model version 2.2.0, which errs (25% against 3%) and is three times slower, so
the device tier degrades and the culprit segment is
``device_model=galaxy-a14, model_version=2.2.0``. Device fallbacks escalate to
the cloud on the same trace.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from tests.otlp import attributes, span

FLEET = "shop"
MODEL = "tagger"
TASK = "photo-tag"
OLD, NEW = "2.1.0", "2.2.0"
#: Devices per phone model; the first half of the galaxies run NEW in the window.
DEVICES = 10


@dataclass(frozen=True)
class Profile:
    """How one group of attempts behaves."""

    error_rate: float = 0.03
    fallback_rate: float = 0.05
    latency_ms: float = 40.0
    quality: float = 0.88
    fallback_reason: str = "low_confidence"


NORMAL = Profile()
BAD = Profile(
    error_rate=0.25, fallback_rate=0.15, latency_ms=120.0, quality=0.7, fallback_reason="error"
)
EDGE = Profile(latency_ms=60.0, quality=0.9)
CLOUD = Profile(error_rate=0.01, fallback_rate=0.0, latency_ms=150.0, quality=0.93)


@dataclass
class Seeded:
    """What was sent: the minute the window ends at, and the span count."""

    end_s: int
    spans: int


class _Builder:
    """Spans grouped by resource, with unique trace and span ids."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.next_id = 1
        self.by_resource: dict[tuple[tuple[str, Any], ...], list[Span]] = defaultdict(list)

    def attempt(
        self,
        resource: dict[str, Any],
        *,
        start_s: float,
        tier: str,
        version: str,
        profile: Profile,
        trace: int | None = None,
        attempt: int = 1,
    ) -> tuple[int, bool]:
        """One attempt; returns its trace id and whether it fell back."""
        n = self.next_id
        self.next_id += 1
        error = bool(self.rng.random() < profile.error_rate)
        fallback = bool(self.rng.random() < profile.fallback_rate)
        attrs: dict[str, Any] = {
            "hybrid.tier": tier,
            "hybrid.task": TASK,
            "hybrid.model.name": MODEL,
            "hybrid.model.version": version,
            "hybrid.attempt": attempt,
            "hybrid.confidence": float(np.clip(self.rng.normal(0.8, 0.08), 0, 1)),
            "hybrid.quality": float(np.clip(self.rng.normal(profile.quality, 0.05), 0, 1)),
        }
        if fallback:
            attrs["hybrid.fallback"] = True
            attrs["hybrid.fallback.reason"] = profile.fallback_reason
        if error:
            attrs["error.type"] = "InferenceError"
        latency = float(profile.latency_ms * self.rng.lognormal(0, 0.3))
        key = tuple(sorted(resource.items()))
        self.by_resource[key].append(
            span(
                n,
                attrs=attrs,
                start_ns=int(start_s * 1e9),
                latency_ms=latency,
                error=error,
                trace=trace if trace is not None else n,
            )
        )
        return (trace if trace is not None else n), fallback

    def requests(self, per_request: int = 1500) -> list[ExportTraceServiceRequest]:
        """Export requests of at most about ``per_request`` spans each."""
        out: list[ExportTraceServiceRequest] = []
        current = ExportTraceServiceRequest()
        size = 0
        for key, spans in self.by_resource.items():
            for i in range(0, len(spans), per_request):
                chunk = spans[i : i + per_request]
                rs = ResourceSpans(scope_spans=[ScopeSpans(spans=chunk)])
                rs.resource.attributes.extend(attributes(dict(key)))
                current.resource_spans.append(rs)
                size += len(chunk)
                if size >= per_request:
                    out.append(current)
                    current, size = ExportTraceServiceRequest(), 0
        if size:
            out.append(current)
        return out


def _phone(device_model: str, i: int) -> dict[str, Any]:
    return {
        "service.name": "camera-app",
        "service.version": "5.1",
        "hybrid.fleet": FLEET,
        "hybrid.region": "eu",
        "device.id": f"{device_model}-{i:02d}",
        "device.model.identifier": device_model,
    }


def _node(tier: str) -> dict[str, Any]:
    return {
        "service.name": f"{tier}-inference",
        "hybrid.fleet": FLEET,
        "hybrid.region": "eu",
        "hybrid.node": f"{tier}-1",
    }


def build(
    *, now_s: float | None = None, seed: int = 7
) -> tuple[int, list[ExportTraceServiceRequest]]:
    """The export requests of the fleet, and the minute its window ends at."""
    end_s = int((now_s if now_s is not None else time.time()) // 60 * 60)
    b = _Builder(seed)
    cloud = _node("cloud")

    def hour(start_s: int, per_group: int, *, window: bool) -> None:
        offsets = np.sort(b.rng.uniform(60, 3540, per_group))
        for k, offset in enumerate(offsets):
            at = start_s + float(offset)
            for device_model in ("pixel-7", "galaxy-a14"):
                i = k % DEVICES
                moved = window and device_model == "galaxy-a14" and i < DEVICES // 2
                version, profile = (NEW, BAD) if moved else (OLD, NORMAL)
                trace, fell_back = b.attempt(
                    _phone(device_model, i),
                    start_s=at,
                    tier="device",
                    version=version,
                    profile=profile,
                )
                if fell_back:
                    b.attempt(
                        cloud,
                        start_s=at + 0.2,
                        tier="cloud",
                        version=OLD,
                        profile=CLOUD,
                        trace=trace,
                        attempt=2,
                    )
            b.attempt(_node("edge"), start_s=at, tier="edge", version=OLD, profile=EDGE)
            b.attempt(cloud, start_s=at, tier="cloud", version=OLD, profile=CLOUD)

    for h in range(25, 1, -1):
        hour(end_s - h * 3600, 40, window=False)
    hour(end_s - 3600, 240, window=True)
    return end_s, b.requests()


def send(base_url: str, *, token: str | None = None, now_s: float | None = None) -> Seeded:
    """Send the fleet to the server at ``base_url``; every export must be stored (200)."""
    end_s, exports = build(now_s=now_s)
    headers = {"Content-Type": "application/x-protobuf"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    count = 0
    with requests.Session() as session:
        for export in exports:
            answer = session.post(
                f"{base_url}/v1/traces",
                data=export.SerializeToString(),
                headers=headers,
                timeout=60,
            )
            if answer.status_code != 200:
                raise AssertionError(f"export refused: {answer.status_code} {answer.text}")
            count += sum(len(ss.spans) for rs in export.resource_spans for ss in rs.scope_spans)
    return Seeded(end_s=end_s, spans=count)
