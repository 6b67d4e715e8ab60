"""The router: how requests become attempts, checked over many seeded requests."""

from __future__ import annotations

import itertools
import random
import statistics
from typing import Any

from simulator.catalog import CONFIDENCE_FLOOR
from simulator.fleet import Versions, build_devices, node_ranks
from simulator.router import PlannedRequest, Router
from simulator.scenario import NS, Scenario, parse_scenario
from tierwatch_sdk.attributes import FALLBACK_REASONS, ROUTE_REASONS

ANCHOR = 1_750_000_000 * NS
H = 3600 * NS


def plan(scenario: Scenario, *, requests: int = 6000, seed: int = 3) -> list[PlannedRequest]:
    """``requests`` requests over the two hours before the anchor, from 60 devices."""
    start = ANCHOR - 2 * H
    devices = build_devices(scenario, count=60, seed=seed, start_ns=start)
    router = Router(
        scenario,
        anchor_ns=ANCHOR,
        versions=Versions(scenario, ANCHOR),
        node_ranks=node_ranks(seed),
    )
    rng = random.Random(seed)
    step = 2 * H // requests
    return [router.plan(rng, devices[i % len(devices)], start + i * step) for i in range(requests)]


def shape(request: PlannedRequest) -> list[tuple[Any, ...]]:
    return [
        (a.tier, a.recorder, a.number, a.version, a.latency_ms, a.confidence, a.fallback_reason)
        for a in request.attempts
    ]


def test_the_same_seed_plans_the_same_requests() -> None:
    assert [shape(r) for r in plan(Scenario(), requests=500)] == [
        shape(r) for r in plan(Scenario(), requests=500)
    ]
    assert [shape(r) for r in plan(Scenario(), requests=500)] != [
        shape(r) for r in plan(Scenario(), requests=500, seed=4)
    ]


def test_every_request_keeps_the_contract() -> None:
    for request in plan(Scenario()):
        served = [a for a in request.attempts if not a.shadow]
        shadows = [a for a in request.attempts if a.shadow]
        # attempts are numbered from 1; only the last served one is not a fallback
        assert [a.number for a in served] == list(range(1, len(served) + 1))
        assert all(a.fallback_reason in FALLBACK_REASONS for a in served[:-1])
        assert served[-1].fallback_reason is None
        # the route reason belongs to the first attempt
        assert served[0].route_reason in ROUTE_REASONS
        assert all(a.route_reason is None for a in request.attempts[1:])
        # each attempt starts after the one before it ended
        assert all(b.start_ns > a.end_ns for a, b in itertools.pairwise(served))
        # sensitive data stays on the device when the router works
        if served[0].privacy == "sensitive":
            assert [a.tier for a in served] == ["device"]
            assert served[0].route_reason in ("privacy", "offline")
        # a device without network answers alone
        if served[0].network == "offline":
            assert [a.tier for a in served] == ["device"]
            assert served[0].route_reason == "offline"
        # a cloud shadow measures the quality of the served answer, never of sensitive data
        assert len(shadows) <= 1
        if shadows:
            assert shadows[0].tier == "cloud" and shadows[0].number == served[-1].number + 1
            assert served[-1].privacy == "normal" and served[-1].quality is not None
        else:
            assert served[-1].quality is None
        # failed attempts carry an error type; low confidence is not an error
        for a in request.attempts:
            if a.fallback_reason in ("error", "timeout", "oom", "offline"):
                assert a.error_type is not None
            if a.fallback_reason == "low_confidence":
                assert a.error_type is None
                assert a.confidence is not None and a.confidence < CONFIDENCE_FLOOR[a.tier]
        # devices record their own attempts and the calls that never reached a node
        for a in request.attempts:
            if a.recorder == "device":
                assert a.network is not None
            else:
                assert a.recorder.startswith(a.tier) and a.network is None


def test_the_fleet_looks_like_a_hybrid_fleet() -> None:
    attempts = [a for r in plan(Scenario()) for a in r.attempts]
    served = [a for a in attempts if not a.shadow]
    tiers = {t: sum(a.tier == t for a in served) / len(served) for t in ("device", "edge", "cloud")}
    assert 0.75 < tiers["device"] < 0.95 and tiers["edge"] > 0.03 and tiers["cloud"] > 0.03
    reasons = {a.fallback_reason for a in served} - {None}
    assert {"low_confidence", "timeout", "error"} <= reasons
    assert 0.02 < sum(a.shadow for a in attempts) / len(served) < 0.08


def test_a_latency_degradation_slows_only_its_segment() -> None:
    where = {"tier": "device", "device_model": "galaxy-a14", "task": "voice-command"}
    slow = parse_scenario(
        {"degradations": [{"start": "-1h", "where": where, "latency_factor": 2.0}]}
    )

    def medians(scenario: Scenario) -> tuple[float, float, float]:
        requests = plan(scenario, requests=8000)

        def median(target: bool, after: bool) -> float:
            return statistics.median(
                a.latency_ms
                for r in requests
                for a in r.attempts
                if a.tier == "device"
                and a.fallback_reason is None
                and r.task.name == "voice-command"
                and (r.device.hardware.name == "galaxy-a14") is target
                and (r.start_ns >= ANCHOR - H) is after
            )

        return median(True, False), median(True, True), median(False, True)

    before, during, others = medians(slow)
    _, normal, others_normally = medians(Scenario())
    assert 1.7 < during / before < 2.3
    assert 0.9 < during / normal / 2 < 1.1
    assert others == others_normally


def test_a_privacy_bug_sends_sensitive_requests_to_the_cloud() -> None:
    bug = parse_scenario(
        {
            "degradations": [
                {
                    "start": "-1h",
                    "where": {"app_version": "4.3.0", "task": "voice-command"},
                    "privacy_misroute": 1.0,
                }
            ]
        }
    )
    leaked = [
        r
        for r in plan(bug)
        if r.attempts[0].privacy == "sensitive" and r.attempts[0].tier != "device"
    ]
    assert leaked
    assert all(r.device.app_version == "4.3.0" for r in leaked)
    assert all(r.task.name == "voice-command" and r.start_ns >= ANCHOR - H for r in leaked)
    assert {r.attempts[0].tier for r in leaked} == {"cloud"}


def test_a_routing_section_sets_thresholds_and_labels_calibrated_answers() -> None:
    scenario = parse_scenario(
        {
            "shadow_share": 0.2,
            "routing": {
                "confidence_floor": {"device": 0.9},
                "calibrated": True,
                "cloud_quality": 0.8,
                "label_share": 0.5,
            },
        }
    )
    attempts = [a for r in plan(scenario, requests=4000) for a in r.attempts]
    device = [a for a in attempts if a.tier == "device" and a.confidence is not None]
    # the device threshold is the scenario's: nothing below 0.9 is served if it can fall back
    fell = [a for a in device if a.fallback_reason == "low_confidence"]
    assert fell and max(a.confidence or 0.0 for a in fell) < 0.9
    served = [
        a.confidence or 0.0
        for a in device
        if a.fallback_reason is None
        and a.number == 1
        and a.privacy == "normal"
        and a.network != "offline"
    ]
    assert min(served) >= 0.9
    # every answer that fell back for low confidence was compared; labels are right or wrong
    assert all(a.quality in (0.0, 1.0) for a in fell)
    labelled = [a.quality for a in attempts if a.quality is not None]
    assert set(labelled) == {0.0, 1.0}
    # no shadows under calibrated answers
    assert not any(a.shadow for a in attempts)
    # about 80% of the cloud's labelled answers are right
    cloud = [a.quality or 0.0 for a in attempts if a.tier == "cloud" and a.quality is not None]
    assert abs(statistics.fmean(cloud) - 0.8) < 0.05
