"""A short seeded backfill through the real SDK and exporters into a live server."""

from __future__ import annotations

import statistics
from pathlib import Path

import pandas as pd
import pytest
import requests
from sqlalchemy import Engine, select

from collector.db import make_engine
from collector.schema import ATTEMPTS
from simulator.run import Simulation
from simulator.scenario import NS, load_scenario
from tests.conftest import LiveServer, make_settings
from tierwatch.app import create_app
from tierwatch.migrate import upgrade
from tierwatch_sdk.attributes import FALLBACK_REASONS

MIN = 60 * NS
# A minute boundary, so that the periods below fall on whole minutes.
ANCHOR = 1_764_000_000 * NS

SCENARIO = """
name: test
fleet: sim-test
devices: 40
rate: 1.5
seed: 11
shadow_share: 0.1
diurnal: 0
rollouts:
  - {model: tagger-mobile, version: 3.2.0, start: -90m, duration: 30m, share: 0.8}
degradations:
  - name: 3.2.0 slow on galaxy-a14
    start: -40m
    where: {tier: device, device_model: galaxy-a14, model_version: 3.2.0}
    latency_factor: 3
  - name: eu-central loses its network
    start: -15m
    where: {region: eu-central}
    offline_share: 1.0
"""


def attempts(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(select(ATTEMPTS)).mappings().all())
    for column in ("shadow", "fallback", "error", "privacy_violation"):
        frame[column] = frame[column].astype(bool)
    frame["minutes"] = (frame.start_time_unix_nano - ANCHOR) / MIN
    return frame


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "test.yaml"
    path.write_text(SCENARIO)
    return path


def simulation(url: str, scenario_file: Path, spool: Path, **options: object) -> Simulation:
    return Simulation(
        load_scenario(scenario_file),
        endpoint=url,
        spool_dir=spool,
        anchor_ns=ANCHOR,
        history_ns=90 * MIN,
        **options,  # type: ignore[arg-type]
    )


def test_backfill_stores_a_fleet_with_its_rollout_degradation_and_offline_devices(
    live_server: LiveServer, engine: Engine, scenario_file: Path, tmp_path: Path
) -> None:
    sim = simulation(live_server.url, scenario_file, tmp_path / "spool")
    done = sim.backfill()
    stats = done.senders
    assert done.attempts == stats.recorded == stats.delivered + stats.on_disk
    assert 7_800 < done.requests < 8_400  # 1.5 a second for 90 minutes
    assert stats.on_disk > 0 and stats.lost == 0

    # eu-central devices lost their network at -15m: nothing of theirs arrived since
    frame = attempts(engine)
    assert len(frame) == stats.delivered
    central = {d.device_id for d in sim.devices if d.region.name == "eu-central"}
    assert not frame[frame.device_id.isin(central) & (frame.minutes >= -15)].size
    assert sim.senders.offline_devices_with_spans() >= len(central) > 0

    # the network returns: the spans they kept arrive, each once
    for device in sim.devices:
        device.connected = True
    final = sim.close()
    assert (final.on_disk, final.delivered, final.lost) == (0, done.attempts, 0)
    summary = requests.get(f"{live_server.url}/api/v1/summary", timeout=5).json()
    assert (summary["attempts"], summary["requests"], summary["duplicates"]) == (
        done.attempts,
        done.requests,
        0,
    )
    frame = attempts(engine)
    late = frame[frame.device_id.isin(central) & (frame.minutes >= -15)]
    assert len(late) > 100
    assert (set(late.tier), set(late.network), set(late.route_reason)) == (
        {"device"},
        {"offline"},
        {"offline"},
    )

    served = frame[~frame.shadow]
    # the three tiers, the fleet from the scenario
    assert set(served.tier) == {"device", "edge", "cloud"}
    assert set(frame.fleet) == {"sim-test"}
    # every request is a trace whose attempts are numbered 1, 2, ...
    numbers = served.groupby("trace_id").attempt.agg(["min", "max", "count"])
    assert (numbers["min"] == 1).all() and (numbers["max"] == numbers["count"]).all()
    assert len(numbers) == done.requests
    # fallbacks say why, with the contract's reasons, and the request moved on
    fallbacks = served[served.fallback]
    assert set(fallbacks.fallback_reason) <= set(FALLBACK_REASONS)
    assert {"low_confidence", "timeout", "error"} <= set(fallbacks.fallback_reason)
    last = numbers["max"][fallbacks.trace_id].to_numpy()
    assert (fallbacks.attempt.to_numpy() < last).all()
    # a share of requests is shadowed by the cloud; quality is known exactly for those
    shadows = frame[frame.shadow]
    assert set(shadows.tier) == {"cloud"} and len(shadows) > 300
    assert served.quality.notna().sum() == len(shadows)
    assert not frame.privacy_violation.any()

    # tagger-mobile 3.2.0 rolls out from -90m over 30 minutes to 80 % of devices
    tagger = served[(served.model == "tagger-mobile") & (served.tier == "device")]
    new = (tagger.model_version == "3.2.0").groupby(tagger.minutes // 15).mean()
    assert new[-6] < 0.3 < new[-5] < new[-4]
    assert 0.6 < new[-2] < 0.95 and set(tagger.model_version) == {"3.1.0", "3.2.0"}

    # 3.2.0 turns three times slower on galaxy-a14 from -40m, and nothing else does
    device = served[(served.tier == "device") & ~served.fallback]

    def slowdown(rows: pd.DataFrame) -> float:
        before = rows[(rows.minutes >= -60) & (rows.minutes < -40)].latency_ms
        during = rows[(rows.minutes >= -40) & (rows.minutes < -15)].latency_ms
        return statistics.median(during) / statistics.median(before)

    a14 = device.device_model == "galaxy-a14"
    new_tagger = device.model_version == "3.2.0"
    assert slowdown(device[a14 & new_tagger]) > 2.0
    # the same version on other phones, and other models on the same phones
    assert 0.85 < slowdown(device[~a14 & new_tagger]) < 1.15
    assert 0.8 < slowdown(device[a14 & (device.task == "voice-command")]) < 1.25


def test_the_same_seed_and_anchor_store_the_same_spans(scenario_file: Path, tmp_path: Path) -> None:
    stored = []
    for run in ("first", "second"):
        url = f"sqlite:///{tmp_path / run}.db"
        engine = make_engine(url)
        upgrade(engine)
        app = create_app(make_settings(url), engine=engine, migrate=False)
        with LiveServer(app) as server:
            sim = Simulation(
                load_scenario(scenario_file),
                endpoint=server.url,
                spool_dir=tmp_path / run,
                anchor_ns=ANCHOR,
                history_ns=10 * MIN,
                devices=10,
            )
            sim.backfill()
            for device in sim.devices:
                device.connected = True
            sim.close()
        frame = attempts(engine).drop(columns=["received_time_unix_nano", "segment_id"])
        stored.append(frame.sort_values(["trace_id", "span_id"]).reset_index(drop=True))
        engine.dispose()
    assert len(stored[0]) > 500
    pd.testing.assert_frame_equal(stored[0], stored[1])
