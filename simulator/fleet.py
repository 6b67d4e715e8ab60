"""The simulated fleet: devices with their hardware, place and state, and the rollout of versions.

A device's state (network, thermal, battery) depends only on its own seeded
random stream and on time, never on the order in which other devices are
asked, so a run is the same for the same seed whatever the timing of threads.
State is advanced lazily: each question about a device moves its clock forward
to the time asked, so times asked of one device must not go backwards.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate

from simulator import catalog
from simulator.catalog import Hardware, Node, Region
from simulator.scenario import NS, Degradation, Scenario

MINUTE = 60 * NS
DAY = 86400 * NS
#: Thermal states by heat level: below 1 nominal, below 2 fair, below 3 serious.
THERMAL_STATES = ("nominal", "fair", "serious", "critical")
#: Heavy-use sessions (games, navigation, video calls) that heat a device up.
SESSIONS_PER_DAY = 3.0
SESSION_MEDIAN = 25 * MINUTE
#: Spells of poor connectivity (a train, a basement).
DEGRADED_PER_DAY = 4.0
DEGRADED_MEDIAN = 10 * MINUTE
#: How fast a device cools down, and how much heat a millijoule of inference leaves.
COOLING_TAU = 10 * MINUTE
HEAT_PER_JOULE = 0.02
CELLULAR_SHARE = 0.35


class Intervals:
    """A random sequence of on/off spells, generated as time moves forward."""

    def __init__(self, rng: random.Random, per_day: float, median_ns: int, start_ns: int) -> None:
        self._rng = rng
        self._rate = per_day / DAY
        self._median = median_ns
        self._on_from = 0
        self._on_until = 0
        self._next = self._gap(start_ns - DAY)
        while self._next < start_ns:
            self._advance()

    def _gap(self, after: int) -> int:
        if self._rate <= 0:
            return 2**62
        return after + int(self._rng.expovariate(self._rate))

    def _advance(self) -> None:
        duration = int(self._median * self._rng.lognormvariate(0.0, 0.9))
        self._on_from, self._on_until = self._next, self._next + duration
        self._next = self._gap(self._on_until)

    def active(self, t: int) -> bool:
        """Whether a spell is on at ``t`` (``t`` never decreases between calls)."""
        while self._next <= t:
            self._advance()
        return self._on_from <= t < self._on_until


@dataclass
class Device:
    """One simulated device: who it is (its resource) and its state over time."""

    index: int
    device_id: str
    hardware: Hardware
    os_version: str
    region: Region
    app_version: str
    edge_node: Node
    cloud_node: Node
    cellular: bool
    #: Relative share of the fleet's requests that this device makes.
    activity: float
    #: Position in each model's rollout order, 0..1 (2.0 for a device stuck on old versions).
    ranks: dict[str, float]
    #: Position for device-level degradations (which share of matching devices go offline).
    offline_rank: float
    battery_phase: float
    battery_drain: float
    outages: Intervals
    poor_signal: Intervals
    sessions: Intervals
    heat: float = 0.0
    heat_at: int = 0
    #: Whether the device can reach the network now: read by its exporter's thread.
    connected: bool = True
    dims: dict[str, str] = field(default_factory=dict)

    def network(self, t: int, forced_offline: bool) -> str:
        """``online``, ``metered``, ``degraded`` or ``offline`` at ``t``."""
        if forced_offline or self.outages.active(t):
            state = "offline"
        elif self.poor_signal.active(t):
            state = "degraded"
        else:
            state = "metered" if self.cellular else "online"
        self.connected = state != "offline"
        return state

    def thermal(self, t: int) -> str:
        """The thermal state at ``t``: heat from recent inference plus any heavy-use session."""
        self._cool(t)
        level = self.heat + (2.0 * self.hardware.heat if self.sessions.active(t) else 0.0)
        return THERMAL_STATES[min(int(level), 3)]

    def warm(self, t: int, energy_mj: float) -> None:
        """Add the heat of an inference that cost ``energy_mj``."""
        self._cool(t)
        self.heat += energy_mj / 1000 * HEAT_PER_JOULE * self.hardware.heat

    def _cool(self, t: int) -> None:
        if t > self.heat_at:
            self.heat *= math.exp(-(t - self.heat_at) / COOLING_TAU)
            self.heat_at = t

    def battery(self, t: int) -> float:
        """Battery level 0..1 at ``t``: drained through the day, charged once a day."""
        day_fraction = (t / DAY + self.battery_phase) % 1.0
        return max(0.02, 1.0 - day_fraction * self.battery_drain)


def _pick(rng: random.Random, items: list[tuple[str, float]]) -> str:
    names = [name for name, _ in items]
    return rng.choices(names, weights=[weight for _, weight in items])[0]


def build_devices(scenario: Scenario, *, count: int, seed: int, start_ns: int) -> list[Device]:
    """``count`` devices spread over hardware classes, regions and app versions, from ``seed``."""
    rng = random.Random(f"fleet:{seed}")
    hardware = [(h.name, h.share) for h in catalog.HARDWARE]
    regions = [(r.name, r.share) for r in catalog.REGIONS]
    models = sorted(catalog.MODEL_NAMES)
    devices = []
    for index in range(count):
        kind = catalog.HARDWARE_BY_NAME[_pick(rng, hardware)]
        region = catalog.REGIONS_BY_NAME[_pick(rng, regions)]
        stuck = rng.random() < scenario.stuck_share
        ranks = {model: 2.0 if stuck else rng.random() for model in models}
        # Each kind of spell has its own stream, so spells depend on time alone.
        streams = [random.Random(f"device:{seed}:{index}:{n}") for n in range(3)]
        device = Device(
            index=index,
            device_id=f"{kind.name}-{rng.getrandbits(32):08x}",
            hardware=kind,
            os_version=rng.choice(kind.os_versions),
            region=region,
            app_version=_pick(rng, list(catalog.APP_VERSIONS)),
            edge_node=catalog.NODES_BY_NAME[region.edge_nodes[index % len(region.edge_nodes)]],
            cloud_node=catalog.NODES_BY_NAME[region.cloud_node],
            cellular=rng.random() < CELLULAR_SHARE,
            activity=rng.lognormvariate(0.0, 0.5),
            ranks=ranks,
            offline_rank=rng.random(),
            battery_phase=rng.random(),
            battery_drain=rng.uniform(0.5, 1.0),
            outages=Intervals(
                streams[0],
                scenario.offline.outages_per_day,
                scenario.offline.median_duration_ns,
                start_ns,
            ),
            poor_signal=Intervals(streams[1], DEGRADED_PER_DAY, DEGRADED_MEDIAN, start_ns),
            sessions=Intervals(streams[2], SESSIONS_PER_DAY, SESSION_MEDIAN, start_ns),
            heat_at=start_ns,
        )
        device.dims = {
            "device_model": kind.name,
            "region": region.name,
            "app_version": device.app_version,
        }
        devices.append(device)
    return devices


class Picker:
    """Picks the device that makes the next request, in proportion to each one's activity."""

    def __init__(self, devices: list[Device]) -> None:
        self._devices = devices
        self._cumulative = list(accumulate(d.activity for d in devices))

    def pick(self, rng: random.Random) -> Device:
        index = bisect_right(self._cumulative, rng.random() * self._cumulative[-1])
        return self._devices[min(index, len(self._devices) - 1)]


def node_ranks(seed: int) -> dict[str, dict[str, float]]:
    """Each node's position in each model's rollout order."""
    rng = random.Random(f"nodes:{seed}")
    models = sorted(catalog.MODEL_NAMES)
    return {node.name: {model: rng.random() for model in models} for node in catalog.NODES}


class Versions:
    """Which version of a model a sender runs at a time, as rollouts progress."""

    def __init__(self, scenario: Scenario, anchor_ns: int) -> None:
        base = {
            model.name: model.version
            for task in catalog.TASKS
            for model in (task.device, task.edge, task.cloud)
            if model is not None
        }
        self._base = base
        steps: dict[str, list[tuple[int, int, float, str]]] = {}
        for rollout in scenario.rollouts:
            steps.setdefault(rollout.model, []).append(
                (
                    rollout.start.resolve(anchor_ns),
                    rollout.duration_ns,
                    rollout.share,
                    rollout.version,
                )
            )
        self._steps = {model: sorted(items) for model, items in steps.items()}

    def version(self, model: str, rank: float, t: int) -> str:
        """The version a sender at rollout position ``rank`` runs at ``t``."""
        version = self._base[model]
        for start, duration, share, newer in self._steps.get(model, ()):
            if t < start:
                break
            progress = 1.0 if duration <= 0 else min((t - start) / duration, 1.0)
            if rank < progress * share:
                version = newer
        return version


def intensity(degradation: Degradation, anchor_ns: int, t: int) -> float:
    """How strong a degradation is at ``t``: 0 outside its period, ramping up to 1."""
    start = degradation.start.resolve(anchor_ns)
    if t < start:
        return 0.0
    if degradation.end is not None and t >= degradation.end.resolve(anchor_ns):
        return 0.0
    if degradation.ramp_ns > 0:
        return min((t - start) / degradation.ramp_ns, 1.0)
    return 1.0


def matches(degradation: Degradation, dims: dict[str, str]) -> bool:
    """Whether every dimension the degradation names has one of its values in ``dims``."""
    return all(dims.get(key) in values for key, values in degradation.where.items())
