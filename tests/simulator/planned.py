"""Simulated requests planned by the real router, as attempt rows for the collector's store.

Tests that need hours of a scenario's traffic without the SDK and HTTP in
between plan the requests here and write them with :meth:`collector.store.Store.write`.
"""

from __future__ import annotations

import random

from collector.normalise import AttemptRow
from simulator.fleet import Picker, Versions, build_devices, node_ranks
from simulator.router import PlannedRequest, Router
from simulator.scenario import NS, Scenario


def plan(scenario: Scenario, *, start_ns: int, end_ns: int) -> list[PlannedRequest]:
    """Every request the scenario's fleet makes in ``[start_ns, end_ns)`` at its rate."""
    devices = build_devices(scenario, count=scenario.devices, seed=scenario.seed, start_ns=start_ns)
    picker = Picker(devices)
    router = Router(
        scenario,
        anchor_ns=end_ns,
        versions=Versions(scenario, end_ns),
        node_ranks=node_ranks(scenario.seed),
    )
    rng = random.Random(f"requests:{scenario.seed}")
    out: list[PlannedRequest] = []
    t = start_ns
    while True:
        t += int(rng.expovariate(scenario.rate) * NS) + 1
        if t >= end_ns:
            return out
        out.append(router.plan(rng, picker.pick(rng), t))


def rows(requests: list[PlannedRequest], *, fleet: str, seed: int = 0) -> list[AttemptRow]:
    """The attempt rows the collector would store for ``requests``."""
    ids = random.Random(seed)
    out: list[AttemptRow] = []
    for request in requests:
        trace = ids.randbytes(16)
        parent: bytes | None = None
        device = request.device
        for attempt in request.attempts:
            span = ids.randbytes(8)
            on_device = attempt.recorder == "device"
            out.append(
                AttemptRow(
                    trace_id=trace,
                    span_id=span,
                    parent_span_id=parent,
                    start_time_unix_nano=attempt.start_ns,
                    latency_ms=attempt.latency_ms,
                    fleet=fleet,
                    tier=attempt.tier,
                    task=request.task.name,
                    model=attempt.model,
                    model_version=attempt.version,
                    attempt=attempt.number,
                    route_reason=attempt.route_reason,
                    fallback=attempt.fallback_reason is not None,
                    fallback_reason=attempt.fallback_reason,
                    confidence=attempt.confidence,
                    quality=attempt.quality,
                    shadow=attempt.shadow,
                    privacy=attempt.privacy,
                    privacy_violation=attempt.privacy == "sensitive" and attempt.tier != "device",
                    network=attempt.network,
                    energy_mj=attempt.energy_mj,
                    thermal=attempt.thermal,
                    quantization=attempt.quantization,
                    input_tokens=attempt.input_tokens,
                    output_tokens=attempt.output_tokens,
                    error=attempt.error_type is not None,
                    error_type=attempt.error_type,
                    service_name="companion-app" if on_device else "cloud-inference",
                    app_version=device.app_version if on_device else "2024.11.2",
                    device_id=device.device_id if on_device else None,
                    device_model=device.hardware.name if on_device else "nvidia-h100",
                    os_name=device.hardware.os_name if on_device else None,
                    os_version=device.os_version if on_device else None,
                    region=device.region.name,
                    node=None if on_device else attempt.recorder,
                    environment="simulation",
                    extra=None,
                )
            )
            if not attempt.shadow:
                parent = span
    return out
