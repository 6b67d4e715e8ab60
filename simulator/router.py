"""The router a device runs, and what each attempt it makes turns out to be.

For one request it decides what the fleet's router would: classify the request
(privacy, size), choose the first tier (sensitive data and a lost network keep
it on the device; a hot device, a low battery or a large input send it away;
a busy edge node is skipped), then try tiers in turn, falling back on low
confidence, errors, time-outs, out-of-memory, thermal or battery aborts and a
connection lost mid-request (capacity problems move to the nearest tier, an
unsure device answer goes straight to the cloud's larger model). A share of
served answers is shadowed by the cloud, and the agreement becomes the served
attempt's quality.

Pure: a seeded :class:`random.Random` in, :class:`PlannedRequest` out; nothing
here knows of OpenTelemetry. Active degradations from the scenario change the
outcomes of the attempts, requests and devices they match.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from simulator import catalog
from simulator.catalog import Node, Task, TierModel
from simulator.fleet import Device, Versions, matches
from simulator.scenario import NS, Degradation, Scenario

MS = 1_000_000
#: Latency multiplier of a throttled device, by thermal state.
THROTTLE = {"nominal": 1.0, "fair": 1.1, "serious": 1.5, "critical": 2.2}
#: Network round-trip multiplier, by network state.
NETWORK_FACTOR = {"online": 1.0, "metered": 1.5, "degraded": 4.0}
#: Chance that a remote call loses the connection midway, by network state.
CONNECTION_LOSS = {"online": 0.002, "metered": 0.01, "degraded": 0.12}
#: Chance that an attempt fails on its own, by tier.
BASE_ERROR_RATE = {"device": 0.003, "edge": 0.004, "cloud": 0.002}
DEFAULT_ERROR_TYPE = {"device": "RuntimeError", "edge": "503", "cloud": "503"}
EDGE_BUSY = 0.02
ROUTER_OVERHEAD_MS = 2.0
LOW_BATTERY = 0.15
CONFIDENCE_CONCENTRATION = 14.0


@dataclass(slots=True)
class PlannedAttempt:
    """One attempt as it happened; :mod:`simulator.senders` turns it into a span."""

    tier: str
    #: Who records the span: ``"device"`` for the requesting device, else a node's name.
    recorder: str
    number: int
    model: str
    version: str
    quantization: str | None
    start_ns: int
    latency_ms: float
    privacy: str
    confidence: float | None = None
    route_reason: str | None = None
    fallback_reason: str | None = None
    error_type: str | None = None
    shadow: bool = False
    network: str | None = None
    thermal: str | None = None
    energy_mj: float | None = None
    quality: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None

    @property
    def end_ns(self) -> int:
        return self.start_ns + int(self.latency_ms * MS)


@dataclass(slots=True)
class PlannedRequest:
    """One request (one trace): its attempts in order, any shadow last."""

    device: Device
    task: Task
    start_ns: int
    attempts: list[PlannedAttempt] = field(default_factory=list)

    @property
    def end_ns(self) -> int:
        return max(a.end_ns for a in self.attempts)


@dataclass(frozen=True)
class _Timed:
    degradation: Degradation
    start: int
    end: int | None

    def strength(self, t: int) -> float:
        if t < self.start or (self.end is not None and t >= self.end):
            return 0.0
        ramp = self.degradation.ramp_ns
        return 1.0 if ramp <= 0 else min((t - self.start) / ramp, 1.0)


@dataclass(slots=True)
class _Effect:
    latency: float = 1.0
    error_rate: float = 0.0
    error_type: str | None = None
    confidence: float = 0.0
    quality: float = 0.0


@dataclass(frozen=True, slots=True)
class _RequestState:
    """What every attempt of one request shares: its generator, who asks, what, and in what state.

    The device's conditions are taken once, when the request starts, and hold for
    all of its attempts.
    """

    rng: random.Random
    device: Device
    task: Task
    privacy: str
    network: str
    thermal: str
    battery: float
    #: Input and output tokens, for a generative task.
    tokens: tuple[int, int] | None


@dataclass(slots=True)
class _Outcome:
    """What one run of a tier's model came to: where and when it ran, and how it went."""

    tier: str
    #: The edge or cloud node it ran on; ``None`` on the device.
    node: Node | None
    start_ns: int
    version: str
    latency_ms: float
    confidence: float | None
    failure: str | None
    error_type: str | None
    effect: _Effect


class Router:
    """Plans requests for the devices of a fleet under a scenario."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        anchor_ns: int,
        versions: Versions,
        node_ranks: dict[str, dict[str, float]],
    ) -> None:
        self.scenario = scenario
        self.versions = versions
        self.node_ranks = node_ranks
        timed = [
            _Timed(d, d.start.resolve(anchor_ns), d.end.resolve(anchor_ns) if d.end else None)
            for d in scenario.degradations
        ]
        self._attempt_effects = [
            t
            for t in timed
            if t.degradation.latency_factor != 1.0
            or t.degradation.error_rate
            or t.degradation.confidence_shift
            or t.degradation.quality_shift
        ]
        self._misroutes = [t for t in timed if t.degradation.privacy_misroute]
        self._offline = [t for t in timed if t.degradation.offline_share]
        self._tasks = list(catalog.TASKS)
        self._task_weights = [task.share for task in self._tasks]

    # -- devices ---------------------------------------------------------------------

    def forced_offline(self, device: Device, t: int) -> bool:
        """Whether a degradation has taken ``device`` off the network at ``t``."""
        for timed in self._offline:
            strength = timed.strength(t)
            if (
                strength
                and matches(timed.degradation, device.dims)
                and device.offline_rank < timed.degradation.offline_share * strength
            ):
                return True
        return False

    def update_connectivity(self, device: Device, t: int) -> None:
        """Move the device's network state to ``t`` (what its exporter sees)."""
        device.network(t, self.forced_offline(device, t))

    # -- requests --------------------------------------------------------------------

    def plan(self, stream: random.Random, device: Device, t: int) -> PlannedRequest:
        """The request ``device`` makes at ``t`` and every attempt it leads to.

        The request draws from its own generator, seeded from ``stream``, so that a
        degradation that changes one request's course leaves every other request
        as it would have been.
        """
        rng = random.Random(stream.getrandbits(64))
        task = rng.choices(self._tasks, weights=self._task_weights)[0]
        request = PlannedRequest(device=device, task=task, start_ns=t)
        privacy = "sensitive" if rng.random() < task.sensitive else "normal"
        large = rng.random() < task.large
        tokens: tuple[int, int] | None = None
        if task.generative:
            prompt = int(rng.lognormvariate(4.1, 0.8)) * (8 if large else 1) + 8
            tokens = (prompt, int(rng.lognormvariate(3.2, 0.6)) + 4)
        network = device.network(t, self.forced_offline(device, t))
        thermal = device.thermal(t)
        battery = device.battery(t)
        state = _RequestState(rng, device, task, privacy, network, thermal, battery, tokens)

        remote = (["edge"] if task.edge is not None else []) + ["cloud"]
        misroute = self._misroute(state, t) if privacy == "sensitive" else None
        if network == "offline":
            chain, reason = ["device"], "offline"
        elif misroute is not None:
            chain, reason = [misroute] + (["cloud"] if misroute == "edge" else []), "policy"
        elif privacy == "sensitive":
            chain, reason = ["device"], "privacy"
        elif large:
            # Long prompts exceed the edge model's context too; large images and audio do not.
            chain, reason = (["cloud"] if task.generative else remote), "policy"
        elif thermal in ("serious", "critical"):
            chain, reason = remote, "thermal"
        elif battery < LOW_BATTERY:
            chain, reason = remote, "battery"
        else:
            chain, reason = ["device", *remote], "policy"
        if "edge" in chain and len(chain) > 1 and rng.random() < EDGE_BUSY:
            if chain[0] == "edge":
                reason = "load"
            chain.remove("edge")

        at = t
        index = 0
        while index < len(chain):
            tier = chain[index]
            outcome = self._run(state, tier, at, can_fall_back=index < len(chain) - 1)
            failure = outcome.failure
            floor = self.scenario.routing.floor(tier, catalog.CONFIDENCE_FLOOR.get(tier))
            if failure is None and floor is not None and (outcome.confidence or 0.0) < floor:
                failure = "low_confidence"
            if failure == "offline" and "device" not in chain:
                chain.append("device")  # the network went away: answer on the device after all
            elif failure == "low_confidence" and tier == "device" and "edge" in chain:
                chain.remove("edge")  # unsure answers go to the largest model, not the nearest
            fallback = failure is not None and index < len(chain) - 1
            attempt = self._attempt(state, outcome)
            attempt.number = index + 1
            if index == 0:
                attempt.route_reason = reason
            if fallback:
                attempt.fallback_reason = failure
            request.attempts.append(attempt)
            if tier == "device" and attempt.energy_mj:
                device.warm(at, attempt.energy_mj)
            if not fallback:
                break
            at = attempt.end_ns + int(ROUTER_OVERHEAD_MS * MS)
            index += 1

        served = request.attempts[-1]
        if self.scenario.routing.calibrated:
            # Labelled quality replaces cloud shadows: each answer is right or wrong.
            self._label(state, request)
            return request
        if (
            served.error_type is None
            and served.tier != "cloud"
            and privacy == "normal"
            and network != "offline"
            and rng.random() < self.scenario.shadow_share
        ):
            self._shadow(state, request, served)
        return request

    def _label(self, state: _RequestState, request: PlannedRequest) -> None:
        """Record right (1) or wrong (0) on the answers a calibrated scenario knows about.

        A local answer is right with probability equal to its confidence, a cloud
        answer with probability ``cloud_quality``. Every local answer that fell
        back for low confidence is compared with the cloud's; other served
        answers are labelled with probability ``label_share``.
        """
        routing, rng = self.scenario.routing, state.rng
        served = request.attempts[-1]
        for attempt in request.attempts:
            if attempt.error_type is not None:
                continue
            if attempt.tier == "cloud":
                right = rng.random() < routing.cloud_quality
            elif attempt.confidence is not None:
                right = rng.random() < attempt.confidence
            else:
                continue
            compared = attempt.fallback_reason == "low_confidence"
            labelled = attempt is served and rng.random() < routing.label_share
            if compared or labelled:
                attempt.quality = 1.0 if right else 0.0

    def _misroute(self, state: _RequestState, t: int) -> str | None:
        dims = {**state.device.dims, "task": state.task.name}
        for timed in self._misroutes:
            strength = timed.strength(t)
            chance = timed.degradation.privacy_misroute * strength
            if chance and matches(timed.degradation, dims) and state.rng.random() < chance:
                tier = timed.degradation.misroute_to
                return "cloud" if tier == "edge" and state.task.edge is None else tier
        return None

    def _node(self, device: Device, tier: str) -> Node:
        return device.edge_node if tier == "edge" else device.cloud_node

    def _version(self, device: Device, node: Node | None, model: TierModel, t: int) -> str:
        rank = device.ranks[model.name] if node is None else self.node_ranks[node.name][model.name]
        return self.versions.version(model.name, rank, t)

    def _effect(self, dims: dict[str, str], t: int) -> _Effect:
        effect = _Effect()
        for timed in self._attempt_effects:
            strength = timed.strength(t)
            if not strength or not matches(timed.degradation, dims):
                continue
            d = timed.degradation
            effect.latency *= 1.0 + (d.latency_factor - 1.0) * strength
            effect.error_rate += d.error_rate * strength
            effect.error_type = d.error_type or effect.error_type
            effect.confidence += d.confidence_shift * strength
            effect.quality += d.quality_shift * strength
        return effect

    def _dims(
        self, device: Device, task: Task, tier: str, node: Node | None, model: str, version: str
    ) -> dict[str, str]:
        """The segment the stored attempt will fall in, so that ``where`` means what it says."""
        if node is None:
            return {
                **device.dims,
                "tier": tier,
                "task": task.name,
                "model": model,
                "model_version": version,
                "node": "",
            }
        return {
            "tier": tier,
            "task": task.name,
            "model": model,
            "model_version": version,
            "device_model": node.hardware,
            "region": node.region,
            "app_version": catalog.NODE_SERVICE_VERSION,
            "node": node.name,
        }

    def _run(self, state: _RequestState, tier: str, t: int, *, can_fall_back: bool) -> _Outcome:
        """Run the request's task at ``tier`` from ``t``.

        ``can_fall_back`` says whether another tier is left to try, without which a
        device does not abort for heat or battery.
        """
        rng, device, task, tokens = state.rng, state.device, state.task, state.tokens
        network, thermal = state.network, state.thermal
        node = None if tier == "device" else self._node(device, tier)
        model = task.model(tier)
        assert model is not None
        version = self._version(device, node, model, t)
        effect = self._effect(self._dims(device, task, tier, node, model.name, version), t)
        compute = model.base_ms
        if tokens is not None:
            compute += tokens[0] * model.ms_per_token / 20 + tokens[1] * model.ms_per_token
        if node is None:
            compute *= device.hardware.speed * THROTTLE[thermal]
        else:
            compute *= node.speed
        compute *= rng.lognormvariate(0.0, 0.25) * effect.latency
        round_trip = 0.0
        if node is not None:
            rtt = device.region.edge_rtt_ms if tier == "edge" else device.region.cloud_rtt_ms
            round_trip = rtt * NETWORK_FACTOR[network] * rng.lognormvariate(0.0, 0.3)
        latency = compute + round_trip

        mean = model.confidence + effect.confidence
        if node is None and device.hardware.quantization == "int8":
            mean -= 0.02
        mean = min(max(mean, 0.05), 0.98)
        confidence = rng.betavariate(
            mean * CONFIDENCE_CONCENTRATION, (1.0 - mean) * CONFIDENCE_CONCENTRATION
        )

        def failed(reason: str, error_type: str | None, ms: float) -> _Outcome:
            return _Outcome(tier, node, t, version, ms, None, reason, error_type, effect)

        if node is not None and rng.random() < CONNECTION_LOSS[network]:
            return failed("offline", "ConnectionError", round_trip * rng.uniform(1.0, 4.0))
        if rng.random() < BASE_ERROR_RATE[tier] + effect.error_rate:
            error_type = effect.error_type or DEFAULT_ERROR_TYPE[tier]
            if node is None:
                return failed("error", error_type, compute * rng.uniform(0.1, 1.0))
            return failed("error", error_type, round_trip + compute * rng.uniform(0.0, 0.3))
        if node is None:
            long_prompt = tokens is not None and tokens[0] > 150
            if long_prompt and device.hardware.ram_gb <= 4 and rng.random() < 0.3:
                return failed("oom", "oom", compute * rng.uniform(0.1, 0.4))
            if can_fall_back and thermal == "fair" and rng.random() < 0.03 * device.hardware.heat:
                return failed("thermal", None, compute * rng.uniform(0.3, 0.9))
            if can_fall_back and state.battery < 0.2 and rng.random() < 0.03:
                return failed("battery", None, compute * rng.uniform(0.3, 0.9))
        if latency > model.deadline_ms:
            return failed("timeout", "timeout", model.deadline_ms)
        return _Outcome(tier, node, t, version, latency, confidence, None, None, effect)

    def _attempt(self, state: _RequestState, outcome: _Outcome) -> PlannedAttempt:
        """The attempt ``outcome`` is recorded as, numbered 1 until the caller numbers it."""
        device, node = state.device, outcome.node
        model = state.task.model(outcome.tier)
        assert model is not None
        # A remote call that never reached its node is recorded by the device that made it.
        on_device = node is None or outcome.failure == "offline"
        attempt = PlannedAttempt(
            tier=outcome.tier,
            recorder="device" if node is None or on_device else node.name,
            number=1,
            model=model.name,
            version=outcome.version,
            quantization=model.quantization or device.hardware.quantization,
            start_ns=outcome.start_ns,
            latency_ms=round(outcome.latency_ms, 3),
            privacy=state.privacy,
            confidence=None if outcome.confidence is None else round(outcome.confidence, 4),
            error_type=outcome.error_type,
        )
        if on_device:
            attempt.network = state.network
        if node is None:
            attempt.thermal = state.thermal
            attempt.energy_mj = round(
                device.hardware.power_w * outcome.latency_ms * state.rng.uniform(0.85, 1.15), 2
            )
        if state.tokens is not None:
            attempt.input_tokens, attempt.output_tokens = state.tokens
        return attempt

    def _shadow(
        self, state: _RequestState, request: PlannedRequest, served: PlannedAttempt
    ) -> None:
        # Only requests on normal data are shadowed, and the device's heat and battery
        # play no part in a cloud attempt, so the shadow runs under the request's state.
        rng, device, task = state.rng, state.device, state.task
        outcome = self._run(state, "cloud", served.start_ns, can_fall_back=False)
        if outcome.failure is not None:
            return  # no verdict: the served answer's quality stays unknown
        shadow = self._attempt(state, outcome)
        shadow.shadow = True
        shadow.number = served.number + 1
        request.attempts.append(shadow)
        model = task.model(served.tier)
        assert model is not None and served.confidence is not None
        dims = self._dims(
            device,
            task,
            served.tier,
            None if served.tier == "device" else self._node(device, served.tier),
            served.model,
            served.version,
        )
        agree = model.agreement + 0.9 * (served.confidence - model.confidence)
        agree = min(max(agree + self._effect(dims, served.start_ns).quality, 0.02), 0.995)
        if task.generative:
            served.quality = round(rng.betavariate(agree * 10, (1 - agree) * 10), 4)
        else:
            served.quality = 1.0 if rng.random() < agree else 0.0


__all__ = ["NS", "PlannedAttempt", "PlannedRequest", "Router"]
