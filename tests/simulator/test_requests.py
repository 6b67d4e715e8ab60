"""A simulated fleet's traces, sent by its devices, edge nodes and cloud apart and late, as requests."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import requests
from sqlalchemy import Engine, select

from collector import buckets
from collector.assemble import assemble
from collector.schema import ATTEMPTS, REQUEST_QUEUE, REQUEST_ROLLUPS, REQUESTS, SEGMENTS
from simulator.run import Simulation
from simulator.scenario import NS, load_scenario
from tests.conftest import LiveServer

MIN = 60 * NS
# The minute before the current one: within the attempts' retention, so every request is kept.
ANCHOR = (time.time_ns() // MIN - 1) * MIN

SCENARIO = """
name: requests
fleet: sim-requests
devices: 30
rate: 2
seed: 5
shadow_share: 0.1
diurnal: 0
degradations:
  - name: eu-central loses its network
    start: -8m
    where: {region: eu-central}
    offline_share: 1.0
"""


def expected_requests(attempts: pd.DataFrame) -> pd.DataFrame:
    """Each trace's request as the contract defines it, computed here from the raw attempts."""
    served_path = attempts[~attempts.shadow].copy()
    served_path["rank"] = list(
        zip(served_path.attempt, served_path.start_time_unix_nano, served_path.span_id, strict=True)
    )
    out = []
    for trace, group in served_path.groupby("trace_id"):
        first = group.loc[group["rank"].idxmin()]
        answers = group[~group.fallback & ~group.error]
        row = {
            "trace_id": trace,
            "segment_id": first.segment_id,
            "minute": first.start_time_unix_nano // MIN * 60,
            "first_tier": first.tier,
            "attempts": len(group),
            "tiers": group.tier.nunique(),
            "served_tier": None,
            "latency": None,
        }
        if len(answers):
            served = answers.loc[answers["rank"].idxmin()]
            row["served_tier"] = served.tier
            row["latency"] = (
                served.start_time_unix_nano - first.start_time_unix_nano
            ) / 1e6 + served.latency_ms
        out.append(row)
    return pd.DataFrame(out)


def test_simulated_requests_are_assembled_exactly(
    live_server: LiveServer, engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "requests.yaml"
    path.write_text(SCENARIO)
    sim = Simulation(
        load_scenario(path),
        endpoint=live_server.url,
        spool_dir=tmp_path / "spool",
        anchor_ns=ANCHOR,
        history_ns=20 * MIN,
    )
    done = sim.backfill()
    assert done.senders.on_disk > 0
    # half of it is assembled now; the offline devices' spans arrive afterwards, late
    assemble(engine, now_ns=time.time_ns(), retention_days=30)
    for device in sim.devices:
        device.connected = True
    final = sim.close()
    assert (final.on_disk, final.lost) == (0, 0)
    assemble(engine, now_ns=time.time_ns(), retention_days=30)

    with engine.connect() as conn:
        attempts = pd.DataFrame(conn.execute(select(ATTEMPTS)).mappings().all())
        rollups = pd.DataFrame(
            conn.execute(
                select(REQUEST_ROLLUPS, SEGMENTS.c.tier).join(
                    SEGMENTS, SEGMENTS.c.id == REQUEST_ROLLUPS.c.segment_id
                )
            )
            .mappings()
            .all()
        )
        stored = conn.execute(select(REQUESTS.c.trace_id)).scalars().all()
        queued = conn.execute(select(REQUEST_QUEUE.c.id)).scalars().all()
    expected = expected_requests(attempts)
    answered = expected[expected.served_tier.notna()]
    local = expected.first_tier.isin(["device", "edge"])

    # as many requests as the simulator made, each assembled once, nothing left queued
    assert len(expected) == done.requests == len(stored) == rollups.requests.sum()
    assert queued == []
    totals = {
        "answered": len(answered),
        "failed": len(expected) - len(answered),
        "escalated": int((local & (expected.served_tier == "cloud")).sum()),
        "served_device": int((expected.served_tier == "device").sum()),
        "served_edge": int((expected.served_tier == "edge").sum()),
        "served_cloud": int((expected.served_tier == "cloud").sum()),
        "attempts_sum": int(expected.attempts.sum()),
        "tiers_sum": int(expected.tiers.sum()),
    }
    assert {name: int(rollups[name].sum()) for name in totals} == totals
    assert totals["escalated"] > 50 and totals["failed"] > 0
    # per segment of the first attempt and minute of its start, the same requests
    per_row = expected.groupby(["segment_id", "minute"]).size().to_dict()
    assert rollups.set_index(["segment_id", "minute"]).requests.to_dict() == per_row
    # the end-to-end latencies of answered requests, bucket for bucket
    histogram: dict[int, int] = {}
    for latency in answered.latency:
        bucket = buckets.latency_bucket(latency)
        histogram[bucket] = histogram.get(bucket, 0) + 1
    assert buckets.merge_all(rollups.latency_hist) == histogram

    # the read API says the same, per tier of the first attempt
    window = f"end={pd.Timestamp(ANCHOR + MIN, unit='ns').isoformat()}Z&window=1h&by=tier"
    body = requests.get(f"{live_server.url}/api/v1/requests?{window}", timeout=10).json()
    per_tier = {group["key"]["tier"]: group for group in body["groups"]}
    assert {tier: g["requests"] for tier, g in per_tier.items()} == (
        expected.groupby("first_tier").size().to_dict()
    )
    assert sum(g["escalated"] for g in per_tier.values()) == totals["escalated"]
