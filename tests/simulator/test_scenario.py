"""Scenario files: durations, times, every key of the format, and errors that name the key."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from simulator.scenario import (
    NS,
    Degradation,
    Moment,
    Offline,
    Rollout,
    Scenario,
    ScenarioError,
    builtin_scenarios,
    load_scenario,
    parse_duration,
    parse_moment,
    parse_scenario,
)

H = 3600 * NS


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("90s", 90 * NS),  # seconds
        ("15m", 900 * NS),  # minutes
        ("1h30m", 5400 * NS),  # units add up
        ("1d", 24 * H),  # days
        ("2.5m", 150 * NS),  # fractions
        ("250ms", NS // 4),  # milliseconds
        (30, 30 * NS),  # a bare YAML number is seconds
    ],
)
def test_durations(text: str | int, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize("text", ["", "5", "3 hours", "-3m", "1h-5m"])
def test_bad_durations_say_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_duration(text)
    assert str(raised.value) == f"not a duration: {text!r} (use e.g. 90s, 15m, 1h30m, 1d)"


@pytest.mark.parametrize(
    ("value", "moment"),
    [
        ("now", Moment(0)),  # the anchor itself
        ("-6h", Moment(-6 * H)),  # history
        ("+2m", Moment(120 * NS)),  # into the live stream
        (0, Moment(0)),  # a bare number is seconds from the anchor
        ("2025-03-01T12:00:00Z", Moment(1740830400 * NS, relative=False)),  # absolute
        (datetime(2025, 3, 1, 12, tzinfo=UTC), Moment(1740830400 * NS, relative=False)),  # YAML
    ],
)
def test_moments(value: Any, moment: Moment) -> None:
    assert parse_moment(value) == moment


def test_moments_resolve_against_the_anchor() -> None:
    anchor = 1_700_000_000 * NS
    assert parse_moment("-1h").resolve(anchor) == anchor - H
    assert parse_moment("2025-03-01T12:00:00Z").resolve(anchor) == 1740830400 * NS


def test_every_key_of_the_format() -> None:
    scenario = parse_scenario(
        {
            "name": "all",
            "description": "every key",
            "fleet": "phones",
            "environment": "staging",
            "devices": 40,
            "rate": 0.5,
            "seed": 9,
            "shadow_share": 0.1,
            "diurnal": 0.0,
            "stuck_share": 0.0,
            "offline": {"outages_per_day": 4, "median_duration": "5m"},
            "rollouts": [
                {
                    "model": "tagger-mobile",
                    "version": "3.2.0",
                    "start": "-2h",
                    "duration": "1h",
                    "share": 0.5,
                }
            ],
            "degradations": [
                {
                    "name": "slow",
                    "start": "-1h",
                    "end": "+1h",
                    "ramp": "10m",
                    "where": {"tier": "device", "device_model": ["pixel-8", "galaxy-a14"]},
                    "latency_factor": 2,
                    "error_rate": 0.1,
                    "error_type": "oom",
                    "confidence_shift": -0.1,
                    "quality_shift": -0.2,
                },
                {"start": "now", "privacy_misroute": 0.3, "misroute_to": "edge"},
            ],
        }
    )
    assert scenario == Scenario(
        name="all",
        description="every key",
        fleet="phones",
        environment="staging",
        devices=40,
        rate=0.5,
        seed=9,
        shadow_share=0.1,
        diurnal=0.0,
        stuck_share=0.0,
        offline=Offline(outages_per_day=4.0, median_duration_ns=300 * NS),
        rollouts=(Rollout("tagger-mobile", "3.2.0", Moment(-2 * H), H, 0.5),),
        degradations=(
            Degradation(
                name="slow",
                start=Moment(-H),
                end=Moment(H),
                ramp_ns=600 * NS,
                where={
                    "tier": frozenset({"device"}),
                    "device_model": frozenset({"pixel-8", "galaxy-a14"}),
                },
                latency_factor=2.0,
                error_rate=0.1,
                error_type="oom",
                confidence_shift=-0.1,
                quality_shift=-0.2,
            ),
            Degradation(
                name="degradations[1]",
                start=Moment(0),
                end=None,
                ramp_ns=0,
                where={},
                privacy_misroute=0.3,
                misroute_to="edge",
            ),
        ),
    )


def test_an_empty_file_is_the_default_scenario() -> None:
    assert parse_scenario(None) == Scenario()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # a misspelt top-level key
        (
            {"devicez": 3},
            "devicez: unknown key (known: degradations, description, devices, diurnal, "
            "environment, fleet, name, offline, rate, rollouts, routing, seed, shadow_share, stuck_share)",
        ),
        # numbers are checked with their bounds
        ({"devices": 0}, "devices: must be a whole number, 1 or more; got 0"),
        ({"rate": "fast"}, "rate: must be a number; got 'fast'"),
        ({"shadow_share": 2}, "shadow_share: must be between 0 and 1; got 2"),
        # lists must be lists
        ({"rollouts": {"model": "x"}}, "rollouts: must be a list"),
        # models come from the catalog
        (
            {"rollouts": [{"model": "gpt", "version": "1", "start": "-1h"}]},
            "rollouts[0].model: unknown model 'gpt' (known: asr-large, asr-small, asr-tiny, "
            "ocr-lite, ocr-pro, reply-lm-1b, reply-lm-70b, reply-lm-8b, tagger-base, "
            "tagger-large, tagger-mobile)",
        ),
        ({"rollouts": [{"model": "asr-tiny", "start": "-1h"}]}, "rollouts[0].version: required"),
        (
            {"rollouts": [{"model": "asr-tiny", "version": "2.4.0", "start": "yesterday"}]},
            "rollouts[0].start: not a time: 'yesterday' (use now, -6h, +2m or ISO 8601)",
        ),
        # a degradation must do something
        (
            {"degradations": [{"start": "-1h", "where": {"tier": "device"}}]},
            "degradations[0]: no effect (give one of latency_factor, error_rate, "
            "confidence_shift, quality_shift, privacy_misroute, offline_share)",
        ),
        ({"degradations": [{"latency_factor": 2}]}, "degradations[0].start: required"),
        # where names dimensions of the read API, with known values
        (
            {"degradations": [{"start": "-1h", "where": {"hardware": "x"}, "latency_factor": 2}]},
            "degradations[0].where.hardware: unknown key (known: app_version, device_model, "
            "model, model_version, node, region, task, tier)",
        ),
        (
            {"degradations": [{"start": "-1h", "where": {"node": "edge-xyz"}, "error_rate": 1}]},
            "degradations[0].where.node: unknown value 'edge-xyz' (known: cloud-eu-1, "
            "cloud-us-1, edge-ams-1, edge-ams-2, edge-fra-1, edge-fra-2, edge-iad-1, edge-iad-2)",
        ),
        # request- and device-level effects cannot see the tier
        (
            {"degradations": [{"start": "-1h", "where": {"tier": "edge"}, "privacy_misroute": 1}]},
            "degradations[0].where.tier: privacy_misroute acts on requests before a tier is "
            "chosen; where may name only task, device_model, region, app_version",
        ),
        (
            {
                "degradations": [
                    {"start": "-1h", "where": {"task": "photo-tag"}, "offline_share": 0.5}
                ]
            },
            "degradations[0].where.task: offline_share acts on whole devices; where may name "
            "only device_model, region, app_version",
        ),
        (
            {"degradations": [{"start": "-1h", "privacy_misroute": 0.5, "latency_factor": 2}]},
            "degradations[0]: privacy_misroute acts on requests before a tier is chosen; "
            "give it in a degradation of its own",
        ),
        (
            {"degradations": [{"start": "-1h", "end": "-2h", "error_rate": 0.5}]},
            "degradations[0].end: must be after start",
        ),
        (
            {"degradations": [{"start": "-1h", "privacy_misroute": 0.5, "misroute_to": "device"}]},
            "degradations[0].misroute_to: must be edge or cloud",
        ),
        (
            {"offline": {"outages": 3}},
            "offline.outages: unknown key (known: median_duration, outages_per_day)",
        ),
        ([1, 2], "the scenario must be a mapping"),
        # the routing section: thresholds of local tiers only, in [0, 1]
        (
            {"routing": {"confidence_floor": {"cloud": 0.5}}},
            "routing.confidence_floor.cloud: unknown key (known: device, edge)",
        ),
        (
            {"routing": {"confidence_floor": {"device": 1.5}}},
            "routing.confidence_floor.device: must be between 0 and 1; got 1.5",
        ),
        (
            {"routing": {"calibrated": "yes"}},
            "routing.calibrated: must be true or false; got 'yes'",
        ),
        (
            {"routing": {"label_shares": 0.5}},
            "routing.label_shares: unknown key (known: calibrated, cloud_quality, "
            "confidence_floor, label_share)",
        ),
    ],
)
def test_errors_name_the_key(data: Any, message: str) -> None:
    with pytest.raises(ScenarioError) as raised:
        parse_scenario(data)
    assert str(raised.value) == message


def test_shipped_scenarios_load() -> None:
    names = builtin_scenarios()
    assert names == [
        "demo",
        "edge-outage",
        "input-shift",
        "privacy-bug",
        "regional-outage",
        "steady",
        "threshold-too-high",
    ]
    for name in names:
        assert load_scenario(name).name == name
    routing = load_scenario("threshold-too-high").routing
    assert (routing.floor("device", 0.62), routing.floor("edge", 0.68)) == (0.9, 0.68)
    assert (routing.calibrated, routing.cloud_quality, routing.label_share) == (True, 0.95, 0.5)


def test_files_by_path_and_their_errors(tmp_path: Path) -> None:
    good = tmp_path / "mine.yaml"
    good.write_text("name: mine\ndevices: 12\n")
    assert (load_scenario(good).name, load_scenario(str(good)).devices) == ("mine", 12)
    bad = tmp_path / "bad.yaml"
    bad.write_text("degradations:\n  - start: -1h\n    latency_factr: 2\n")
    with pytest.raises(ScenarioError) as raised:
        load_scenario(bad)
    assert str(raised.value).startswith(
        f"{bad}: degradations[0].latency_factr: unknown key (known: confidence_shift, "
    )
    with pytest.raises(ScenarioError) as raised:
        load_scenario("nope")
    assert str(raised.value) == (
        "no scenario file nope and no built-in scenario of that name (built-in: demo, "
        "edge-outage, input-shift, privacy-bug, regional-outage, steady, threshold-too-high)"
    )
