"""What the simulated fleet is made of: hardware classes, regions and nodes, tasks and their models.

Plain data. The numbers are plausible orders of magnitude for phones and GPU
servers in 2024 (a small vision model in ~30 ms on a flagship NPU, several
times slower on a budget phone; an 8B language model at ~10 ms per token on an
edge GPU), not measurements; what matters is that tiers, hardware classes and
tasks differ the way real ones do.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hardware:
    """A hardware class of devices (``device.model.identifier``)."""

    name: str
    os_name: str
    os_versions: tuple[str, ...]
    #: Share of the fleet's devices.
    share: float
    #: Latency multiplier relative to the reference phone (pixel-8 = 1.0).
    speed: float
    quantization: str
    #: Power drawn while a model runs, in watts (= millijoules per millisecond).
    power_w: float
    #: How fast the device heats under load, relative to the reference phone.
    heat: float
    ram_gb: int


@dataclass(frozen=True)
class Node:
    """An edge or cloud node: a sender of its own, named in ``hybrid.node``."""

    name: str
    tier: str
    region: str
    hardware: str
    #: Latency multiplier relative to the model's reference latency.
    speed: float


@dataclass(frozen=True)
class Region:
    """Where devices are, which edge nodes serve them and which cloud node."""

    name: str
    share: float
    edge_nodes: tuple[str, ...]
    cloud_node: str
    #: Median network round trip from a device, in milliseconds.
    edge_rtt_ms: float
    cloud_rtt_ms: float


@dataclass(frozen=True)
class TierModel:
    """The model a task runs on one tier."""

    name: str
    #: The version every sender runs before any rollout.
    version: str
    #: Median latency on reference hardware, in milliseconds (prefill for generative tasks).
    base_ms: float
    #: Mean confidence the model reports on in-distribution inputs.
    confidence: float
    #: Chance that its answer agrees with the cloud model's, at mean confidence.
    agreement: float
    #: Milliseconds per output token (generative tasks only).
    ms_per_token: float = 0.0
    #: Fixed quantization; ``None`` means the device's native one.
    quantization: str | None = None
    #: Time budget for one attempt; past it the router gives up (timeout).
    deadline_ms: float = 2000.0


@dataclass(frozen=True)
class Task:
    """A product feature (``hybrid.task``) and the models that serve it on each tier."""

    name: str
    #: Share of all requests.
    share: float
    #: Share of requests whose data is marked sensitive.
    sensitive: float
    #: Share of requests too large for the device model (long inputs, high resolution).
    large: float
    device: TierModel
    edge: TierModel | None
    cloud: TierModel
    generative: bool = False

    def model(self, tier: str) -> TierModel | None:
        """The model this task runs on ``tier``, if any."""
        return self.device if tier == "device" else self.edge if tier == "edge" else self.cloud


HARDWARE = (
    Hardware("iphone-15-pro", "iOS", ("17.5", "17.6"), 0.20, 0.75, "fp16", 2.2, 0.7, 8),
    Hardware("galaxy-s23", "Android", ("14",), 0.16, 0.90, "fp16", 2.6, 0.9, 8),
    Hardware("pixel-8", "Android", ("14",), 0.16, 1.00, "int8", 2.8, 1.0, 8),
    Hardware("galaxy-a14", "Android", ("13", "14"), 0.22, 2.60, "int8", 3.2, 1.6, 4),
    Hardware("moto-g54", "Android", ("14",), 0.12, 2.20, "int8", 3.0, 1.4, 4),
    Hardware("ipad-air-m2", "iPadOS", ("17.5",), 0.14, 0.70, "fp16", 2.0, 0.5, 8),
)

REGIONS = (
    Region("eu-west", 0.35, ("edge-ams-1", "edge-ams-2"), "cloud-eu-1", 14.0, 38.0),
    Region("eu-central", 0.30, ("edge-fra-1", "edge-fra-2"), "cloud-eu-1", 12.0, 22.0),
    Region("us-east", 0.35, ("edge-iad-1", "edge-iad-2"), "cloud-us-1", 15.0, 30.0),
)

NODES = (
    Node("edge-ams-1", "edge", "eu-west", "nvidia-l4", 1.0),
    Node("edge-ams-2", "edge", "eu-west", "nvidia-l4", 1.0),
    Node("edge-fra-1", "edge", "eu-central", "nvidia-l4", 1.0),
    Node("edge-fra-2", "edge", "eu-central", "nvidia-l4", 1.0),
    Node("edge-iad-1", "edge", "us-east", "nvidia-l4", 1.0),
    Node("edge-iad-2", "edge", "us-east", "nvidia-l4", 1.0),
    Node("cloud-eu-1", "cloud", "eu-central", "nvidia-h100", 1.0),
    Node("cloud-us-1", "cloud", "us-east", "nvidia-h100", 1.0),
)

TASKS = (
    Task(
        "photo-tag",
        share=0.40,
        sensitive=0.10,
        large=0.05,
        device=TierModel("tagger-mobile", "3.1.0", 30.0, 0.84, 0.90, deadline_ms=300.0),
        edge=TierModel("tagger-base", "1.4.0", 14.0, 0.89, 0.94, quantization="fp16"),
        cloud=TierModel(
            "tagger-large", "2.0.1", 22.0, 0.93, 1.0, quantization="fp16", deadline_ms=3000.0
        ),
    ),
    Task(
        "voice-command",
        share=0.30,
        sensitive=0.40,
        large=0.02,
        device=TierModel("asr-tiny", "2.3.0", 160.0, 0.80, 0.86, deadline_ms=1200.0),
        edge=TierModel("asr-small", "1.1.0", 70.0, 0.87, 0.92, quantization="fp16"),
        cloud=TierModel(
            "asr-large", "3.0.0", 120.0, 0.92, 1.0, quantization="fp16", deadline_ms=4000.0
        ),
    ),
    Task(
        "smart-reply",
        share=0.20,
        sensitive=0.25,
        large=0.12,
        generative=True,
        device=TierModel(
            "reply-lm-1b", "1.2.0", 40.0, 0.74, 0.78, 28.0, quantization="int4", deadline_ms=2500.0
        ),
        edge=TierModel(
            "reply-lm-8b", "0.9.0", 30.0, 0.84, 0.88, 9.0, quantization="fp16", deadline_ms=2500.0
        ),
        cloud=TierModel(
            "reply-lm-70b", "4.1.0", 60.0, 0.90, 1.0, 14.0, quantization="fp8", deadline_ms=8000.0
        ),
    ),
    Task(
        "doc-scan",
        share=0.10,
        sensitive=0.55,
        large=0.03,
        device=TierModel("ocr-lite", "5.0.1", 210.0, 0.82, 0.88, deadline_ms=2000.0),
        edge=None,
        cloud=TierModel(
            "ocr-pro", "2.2.0", 260.0, 0.94, 1.0, quantization="fp16", deadline_ms=5000.0
        ),
    ),
)

#: App versions (``service.version``) across the fleet, with their shares.
APP_VERSIONS = (("4.1.0", 0.15), ("4.2.0", 0.55), ("4.3.0", 0.30))

#: The service name of each kind of sender.
DEVICE_SERVICE = "companion-app"
EDGE_SERVICE = "edge-inference"
CLOUD_SERVICE = "cloud-inference"
NODE_SERVICE_VERSION = "2024.11.2"

#: Below this confidence the router does not serve a tier's answer.
CONFIDENCE_FLOOR = {"device": 0.62, "edge": 0.68}

HARDWARE_BY_NAME = {h.name: h for h in HARDWARE}
NODES_BY_NAME = {n.name: n for n in NODES}
REGIONS_BY_NAME = {r.name: r for r in REGIONS}
TASKS_BY_NAME = {t.name: t for t in TASKS}
MODEL_NAMES = frozenset(
    model.name for task in TASKS for model in (task.device, task.edge, task.cloud) if model
)
