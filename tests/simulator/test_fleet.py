"""The fleet: rollouts, degradation timing and matching, devices and their state."""

from __future__ import annotations

import random

import pytest

from simulator.fleet import DAY, Intervals, Versions, build_devices, intensity, matches
from simulator.scenario import NS, Scenario, parse_scenario

H = 3600 * NS
ANCHOR = 1_750_000_000 * NS


@pytest.fixture
def versions() -> Versions:
    scenario = parse_scenario(
        {
            "rollouts": [
                {
                    "model": "tagger-mobile",
                    "version": "3.2.0",
                    "start": "-2h",
                    "duration": "1h",
                    "share": 0.5,
                },
                {"model": "tagger-mobile", "version": "3.3.0", "start": "-30m", "share": 0.1},
            ]
        }
    )
    return Versions(scenario, ANCHOR)


@pytest.mark.parametrize(
    ("rank", "offset", "version"),
    [
        (0.0, -2 * H - 1, "3.1.0"),  # before the rollout everyone runs the catalog's version
        (0.2, -90 * 60 * NS, "3.2.0"),  # half way: 25 % of senders have it, rank 0.2 among them
        (0.3, -90 * 60 * NS, "3.1.0"),  # ... rank 0.3 not yet
        (0.49, -31 * 60 * NS, "3.2.0"),  # done: half of the senders
        (0.5, 0, "3.1.0"),  # the other half never get it
        (0.05, 0, "3.3.0"),  # the next version, at once, to a tenth
        (2.0, 0, "3.1.0"),  # a device stuck on old versions
    ],
)
def test_rollouts_reach_a_growing_share(
    versions: Versions, rank: float, offset: int, version: str
) -> None:
    assert versions.version("tagger-mobile", rank, ANCHOR + offset) == version


def test_models_without_rollouts_keep_their_version(versions: Versions) -> None:
    assert versions.version("asr-tiny", 0.0, ANCHOR) == "2.3.0"


def test_degradations_ramp_up_within_their_period() -> None:
    (d,) = parse_scenario(
        {"degradations": [{"start": "-1h", "end": "+1h", "ramp": "30m", "error_rate": 0.2}]}
    ).degradations
    assert [
        intensity(d, ANCHOR, ANCHOR + offset)
        for offset in (-H - 1, -H, -H + 15 * 60 * NS, -H + 30 * 60 * NS, 0, H - 1, H)
    ] == [0.0, 0.0, 0.5, 1.0, 1.0, 1.0, 0.0]


def test_where_matches_every_named_dimension() -> None:
    (d,) = parse_scenario(
        {
            "degradations": [
                {
                    "start": "now",
                    "where": {"tier": "device", "device_model": ["pixel-8", "galaxy-a14"]},
                    "latency_factor": 2,
                }
            ]
        }
    ).degradations
    assert matches(d, {"tier": "device", "device_model": "pixel-8", "task": "photo-tag"})
    assert not matches(d, {"tier": "edge", "device_model": "pixel-8"})
    assert not matches(d, {"tier": "device", "device_model": "moto-g54"})


def test_the_same_seed_builds_the_same_fleet() -> None:
    first = build_devices(Scenario(), count=50, seed=4, start_ns=ANCHOR)
    again = build_devices(Scenario(), count=50, seed=4, start_ns=ANCHOR)
    other = build_devices(Scenario(), count=50, seed=5, start_ns=ANCHOR)
    key = [(d.device_id, d.region.name, d.app_version, d.ranks["asr-tiny"]) for d in first]
    assert key == [(d.device_id, d.region.name, d.app_version, d.ranks["asr-tiny"]) for d in again]
    assert [d.device_id for d in first] != [d.device_id for d in other]
    assert all(d.device_id.startswith(d.hardware.name + "-") for d in first)
    assert all(d.edge_node.region == d.region.name for d in first)


def test_spells_depend_on_time_only() -> None:
    def spells(step: int) -> list[bool]:
        intervals = Intervals(random.Random(1), 6.0, 30 * 60 * NS, ANCHOR)
        asked = [intervals.active(t) for t in range(ANCHOR, ANCHOR + DAY, step)]
        return asked[:: (60 * NS * 10) // step]

    # Asking every minute or every ten minutes gives the same answer at the same times.
    assert spells(60 * NS) == spells(600 * NS)
    assert 0 < sum(spells(60 * NS)) < 144


def test_heat_becomes_thermal_states_and_cools_down() -> None:
    (device,) = build_devices(Scenario(), count=1, seed=1, start_ns=ANCHOR)
    device.sessions = Intervals(random.Random(1), 0.0, 1, ANCHOR)  # no heavy use
    device.heat, device.heat_at = 2.5, ANCHOR
    assert device.thermal(ANCHOR) == "serious"
    assert device.thermal(ANCHOR + 10 * 60 * NS) == "nominal"  # e^-1 of 2.5 is below 1
    device.heat = 9.0
    assert device.thermal(ANCHOR + 10 * 60 * NS) == "critical"
