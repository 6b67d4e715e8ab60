"""Advice rollups: local attempts of closed hours by confidence, joined with their cloud outcome."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from analytics.advice_rollups import ADVICE_WATERMARK, advice_bucket, fold_advice, read_buckets
from analytics.retention import expire_advice_rollups
from collector.buckets import encode, latency_bucket
from collector.schema import ADVICE_HOURS, ADVICE_ROLLUPS, ANALYTICS_STATE, LATE_HOURS
from tests.analytics.attempts import attempt, store

H = 1_700_000_000 // 3600 * 3600


def _trace(n: int) -> bytes:
    return n.to_bytes(16, "big")


def _hour_of_attempts() -> list[Any]:
    rows = [
        # served on the device, labelled, with a cloud shadow that is no outcome
        attempt(H + 10, trace=_trace(1), confidence=0.875, quality=1.0, energy_mj=50.0),
        attempt(H + 10, trace=_trace(1), tier="cloud", shadow=True, confidence=None),
        # fell back for low confidence, compared with the cloud's answer
        attempt(H + 20, trace=_trace(2), confidence=0.25, fallback=True,
                fallback_reason="low_confidence", quality=0.0, energy_mj=50.0),
        attempt(H + 21, trace=_trace(2), tier="cloud", model="tagger-large", confidence=None,
                latency_ms=200.0, quality=1.0, input_tokens=100, output_tokens=20),
        # an error: the edge served it, whatever the threshold
        attempt(H + 30, trace=_trace(3), confidence=0.5, fallback=True, fallback_reason="error"),
        attempt(H + 31, trace=_trace(3), tier="edge", confidence=0.75, latency_ms=50.0,
                quality=0.5, attempt=2),
        # sensitive data cannot leave the device: served whatever the threshold
        attempt(H + 40, trace=_trace(4), confidence=0.625, privacy="sensitive", quality=0.75),
        # the hour's last request: its cloud attempt starts after the hour, within the margin
        attempt(H + 3599, trace=_trace(5), confidence=0.25, fallback=True,
                fallback_reason="low_confidence"),
        attempt(H + 3630, trace=_trace(5), tier="cloud", confidence=None, latency_ms=400.0),
        # the next hour
        attempt(H + 3700, trace=_trace(6), confidence=0.875),
    ]  # fmt: skip
    return rows


def _hist(*latencies_ms: float) -> str:
    """The stored histogram of these latencies."""
    counts: dict[int, int] = {}
    for value in latencies_ms:
        counts[latency_bucket(value)] = counts.get(latency_bucket(value), 0) + 1
    return encode(counts)


def _rows(engine: Engine) -> dict[tuple[str, int], dict[str, Any]]:
    with engine.connect() as conn:
        found = conn.execute(select(ADVICE_ROLLUPS).where(ADVICE_ROLLUPS.c.hour == H)).mappings()
        return {(r["tier"], r["bucket"]): dict(r) for r in found}


def test_buckets_are_hundredths_of_confidence() -> None:
    assert advice_bucket([0.0, 0.0099, 0.01, 0.5, 0.85, 0.999, 1.0]).tolist() == [
        0, 0, 1, 50, 85, 99, 99
    ]  # fmt: skip


def test_fold_joins_each_local_attempt_with_what_its_trace_did_next(engine: Engine) -> None:
    store(engine, _hour_of_attempts(), received=H + 4000)
    # the next hour is not closed yet: only the first is folded
    assert fold_advice(engine, now=H + 3600 + 300) == 1
    rows = _rows(engine)
    assert sorted(rows) == [("device", 25), ("device", 50), ("device", 62), ("device", 87),
                            ("edge", 75)]  # fmt: skip
    served = rows[("device", 87)]
    assert (served["attempts"], served["forced"], served["low_confidence"]) == (1, 0, 0)
    assert (served["local_quality_count"], served["local_quality_sum"]) == (1, 1.0)
    assert (served["energy_count"], served["energy_mj_sum"], served["escalated"]) == (1, 50.0, 0)
    assert served["local_latency_hist"] == _hist(100.0)
    low = rows[("device", 25)]
    assert (low["attempts"], low["low_confidence"], low["escalated"]) == (2, 2, 2)
    assert (low["local_quality_count"], low["local_quality_sum"]) == (1, 0.0)
    assert (low["cloud_quality_count"], low["cloud_quality_sum"]) == (1, 1.0)
    assert (low["cloud_input_tokens_sum"], low["cloud_output_tokens_sum"]) == (100, 20)
    # added latency: cloud end - local end = 1,000 + 200 - 100 and 31,000 + 400 - 100 ms
    assert low["cloud_latency_hist"] == _hist(1100.0, 31300.0)
    error = rows[("device", 50)]
    assert (error["forced"], error["forced_cloud"], error["forced_quality_sum"]) == (1, 0, 0.5)
    assert error["local_latency_hist"] == "{}"
    # end to end: 1,000 ms to the edge attempt and its 50 ms
    assert error["forced_latency_hist"] == _hist(1050.0)
    sensitive = rows[("device", 62)]
    assert (sensitive["forced"], sensitive["forced_quality_count"]) == (1, 1)
    assert sensitive["forced_quality_sum"] == 0.75
    edge = rows[("edge", 75)]
    assert (edge["attempts"], edge["forced"]) == (1, 0)
    with engine.connect() as conn:
        assert conn.execute(select(ADVICE_HOURS.c.hour, ADVICE_HOURS.c.source_attempts)).all() == [
            (H, 8)
        ]
        watermark = conn.execute(
            select(ANALYTICS_STATE.c.value).where(ANALYTICS_STATE.c.name == ADVICE_WATERMARK)
        ).scalar()
    assert watermark == H + 3600


def test_late_attempts_rewrite_their_hour(engine: Engine) -> None:
    store(engine, _hour_of_attempts(), received=H + 4000)
    fold_advice(engine, now=H + 3600 + 300)
    # nothing new: nothing rewritten
    assert fold_advice(engine, now=H + 3600 + 600) == 0
    store(engine, [attempt(H + 50, confidence=0.875, quality=0.0)], received=H + 5000)
    assert fold_advice(engine, now=H + 3600 + 900) == 1
    served = _rows(engine)[("device", 87)]
    assert (served["attempts"], served["local_quality_count"]) == (2, 2)


def test_read_adds_whole_hours_per_bucket(engine: Engine) -> None:
    store(engine, _hour_of_attempts(), received=H + 4000)
    fold_advice(engine, now=H + 2 * 3600 + 300)
    with engine.connect() as conn:
        data = read_buckets(
            conn, task="photo-tag", tier="device", start=H, end=H + 7200, fleet=None
        )
        only_first = read_buckets(
            conn, task="photo-tag", tier="device", start=H, end=H + 3600, fleet="fleet-a"
        )
        other = read_buckets(
            conn, task="photo-tag", tier="device", start=H, end=H + 7200, fleet="fleet-b"
        )
    assert (data.hours, data.models) == (2, ("tagger",))
    assert data.sums["attempts"][87] == 2
    assert data.sums["attempts"].sum() == 6
    assert only_first.sums["attempts"].sum() == 5
    assert other.sums["attempts"].sum() == 0
    assert data.histograms["local_latency_hist"][87].sum() == 2


def test_advice_rollups_expire_with_the_hourly_horizon(engine: Engine) -> None:
    store(engine, _hour_of_attempts(), received=H + 4000)
    fold_advice(engine, now=H + 2 * 3600 + 300)
    # a day after the second hour: with 1 day kept, the first hour goes and the second stays
    removed = expire_advice_rollups(engine, now=H + 3600 + 86_400, days=1)
    with engine.connect() as conn:
        hours = sorted({h for (h,) in conn.execute(select(ADVICE_ROLLUPS.c.hour))})
        counted = [h for (h,) in conn.execute(select(ADVICE_HOURS.c.hour))]
    assert (removed, hours, counted) == (5, [H + 3600], [H + 3600])
    assert expire_advice_rollups(engine, now=H + 10 * 86_400, days=0) == 0


def test_hours_noted_late_are_folded_again_past_the_recheck(engine: Engine) -> None:
    store(engine, _hour_of_attempts(), received=H + 4000)
    fold_advice(engine, now=H + 3600 + 300)
    # three days on, a device sends an attempt it held back since the first hour
    later = H + 3 * 86_400
    fold_advice(engine, now=later)
    store(engine, [attempt(H + 50, confidence=0.875, quality=0.0)], received=later)
    with engine.connect() as conn:
        assert H in {h for (h,) in conn.execute(select(LATE_HOURS.c.hour))}
    assert fold_advice(engine, now=later + 600, recheck_hours=24) == 1
    assert _rows(engine)[("device", 87)]["attempts"] == 2


def test_a_pass_folds_at_most_max_hours_and_the_next_goes_on(engine: Engine) -> None:
    store(engine, _hour_of_attempts(), received=H + 4000)
    now = H + 5 * 3600
    assert fold_advice(engine, now=now, max_hours=1) == 1
    with engine.connect() as conn:
        watermark = conn.execute(
            select(ANALYTICS_STATE.c.value).where(ANALYTICS_STATE.c.name == ADVICE_WATERMARK)
        ).scalar()
    assert watermark == H + 3600
    assert fold_advice(engine, now=now, max_hours=1) == 1
    assert fold_advice(engine, now=now, max_hours=1) == 0
    with engine.connect() as conn:
        hours = sorted(h for (h,) in conn.execute(select(ADVICE_HOURS.c.hour)))
    assert hours == [H, H + 3600]
