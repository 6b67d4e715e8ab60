"""A request's state from its attempts: any order, any repetition, the same state and rollup row."""

from __future__ import annotations

from itertools import permutations

import pytest

from collector import buckets
from collector.request_state import (
    AttemptFacts,
    RequestState,
    RollupDeltas,
    contribution,
    merge,
    new_request,
)

MINUTE_NS = 60_000_000_000
T0 = 1_764_000_000 * 1_000_000_000


def _attempt(
    n: int,
    tier: str,
    attempt: int | None,
    start_ms: int,
    latency_ms: float,
    *,
    segment: int | None = None,
    fallback: bool = False,
    error: bool = False,
    shadow: bool = False,
    quality: float | None = None,
    tokens: int | None = None,
) -> AttemptFacts:
    return AttemptFacts(
        fleet="f",
        trace_id=b"\x07" * 16,
        span_id=n.to_bytes(8, "big"),
        segment_id=segment if segment is not None else {"device": 1, "edge": 2, "cloud": 3}[tier],
        start_time_unix_nano=T0 + start_ms * 1_000_000,
        latency_ms=latency_ms,
        tier=tier,
        attempt=attempt,
        fallback=fallback,
        error=error,
        shadow=shadow,
        quality=quality,
        input_tokens=tokens,
        output_tokens=None,
    )


DEVICE = _attempt(1, "device", 1, 0, 40.0, fallback=True, tokens=3)
EDGE = _attempt(2, "edge", 2, 50, 20.0, error=True)
CLOUD = _attempt(3, "cloud", 3, 80, 300.0, quality=0.5, tokens=4)
SHADOW = _attempt(4, "cloud", None, 0, 500.0, shadow=True, tokens=100)


def _state(*attempts: AttemptFacts) -> RequestState:
    state = new_request(attempts[0])
    for attempt in attempts:
        state = merge(state, attempt)
    return state


def test_every_order_of_arrival_gives_the_same_state() -> None:
    states = {_state(*order) for order in permutations([DEVICE, EDGE, CLOUD, SHADOW])}
    # the span ids are kept in arrival order; everything else is the same
    assert len({s._replace(span_ids=b"") for s in states}) == 1
    state = states.pop()
    assert (state.segment_id, state.first_tier, state.served_tier, state.attempts) == (
        1,
        "device",
        "cloud",
        3,
    )
    assert (state.tiers, state.input_tokens, state.start_time_unix_nano) == (7, 107, T0)


def test_an_attempt_merged_again_changes_nothing() -> None:
    state = _state(DEVICE, CLOUD)
    assert merge(state, CLOUD) is state
    assert merge(state, DEVICE, CLOUD) is state
    assert merge(state, CLOUD, EDGE, EDGE) == merge(state, EDGE)


@pytest.mark.parametrize(
    ("attempts", "sums", "bucket"),
    [
        # a device answer: answered on the device in 30 ms
        (
            [_attempt(1, "device", 1, 0, 30.0, quality=1.0)],
            {
                "answered": 1,
                "served_device": 1,
                "latency_ms_sum": 30.0,
                "quality_count": 1,
                "quality_sum": 1.0,
                "quality_sq_sum": 1.0,
            },
            30.0,
        ),
        # the device fell back, the edge failed, the cloud answered: 80 ms later, for 300 ms
        (
            [DEVICE, EDGE, CLOUD],
            {
                "answered": 1,
                "escalated": 1,
                "served_cloud": 1,
                "attempts_sum": 3,
                "tiers_sum": 3,
                "latency_ms_sum": 380.0,
                "quality_count": 1,
                "quality_sum": 0.5,
                "quality_sq_sum": 0.25,
                "input_tokens_sum": 7,
            },
            380.0,
        ),
        # nothing answered yet: failed, no latency
        (
            [DEVICE, EDGE],
            {"failed": 1, "attempts_sum": 2, "tiers_sum": 2, "input_tokens_sum": 3},
            None,
        ),
        # started in the cloud: answered there, not an escalation
        (
            [CLOUD],
            {
                "answered": 1,
                "served_cloud": 1,
                "latency_ms_sum": 300.0,
                "quality_count": 1,
                "quality_sum": 0.5,
                "quality_sq_sum": 0.25,
                "input_tokens_sum": 4,
            },
            300.0,
        ),
    ],
)
def test_contribution(
    attempts: list[AttemptFacts], sums: dict[str, float], bucket: float | None
) -> None:
    part = contribution(_state(*attempts))
    assert part is not None
    expected = {
        "requests": 1,
        "answered": 0,
        "failed": 0,
        "escalated": 0,
        "served_device": 0,
        "served_edge": 0,
        "served_cloud": 0,
        "attempts_sum": 1,
        "tiers_sum": 1,
        "latency_ms_sum": 0.0,
        "quality_count": 0,
        "quality_sum": 0.0,
        "quality_sq_sum": 0.0,
        "input_tokens_sum": 0,
        "output_tokens_sum": 0,
        **sums,
    }
    assert part.sums == expected
    assert part.latency_bucket == (None if bucket is None else buckets.latency_bucket(bucket))
    assert part.key == (attempts[0].segment_id, T0 // 1_000_000_000)


def test_a_request_known_by_its_shadow_only_counts_nowhere() -> None:
    assert contribution(_state(SHADOW)) is None


def test_a_late_first_attempt_moves_the_request_to_its_segment_and_minute() -> None:
    early = _attempt(1, "device", 1, -10, 40.0, fallback=True)
    before = _state(CLOUD)
    after = merge(before, early)
    deltas = RollupDeltas()
    deltas.move(before, after)
    cloud_key, device_key = (3, T0 // 1_000_000_000), (1, T0 // 1_000_000_000 - 60)
    assert deltas.touched() == [device_key, cloud_key]
    stored = {
        "segment_id": 3,
        "minute": cloud_key[1],
        **{name: value for name, value in contribution(before).sums.items()},  # type: ignore[union-attr]
        "latency_hist": buckets.encode({buckets.latency_bucket(300.0): 1}),
    }
    # the cloud's row held only this request: it goes
    assert deltas.apply(cloud_key, stored) is None
    row = deltas.apply(device_key, None)
    assert row is not None
    assert (row["requests"], row["escalated"], row["attempts_sum"]) == (1, 1, 2)
    assert row["latency_hist"] == buckets.encode({buckets.latency_bucket(390.0): 1})


def test_a_span_id_is_known_only_at_a_span_id_boundary() -> None:
    state = _state(DEVICE)._replace(span_ids=bytes(range(16)))
    # bytes 4..11 occur in the list, but straddle two span ids
    assert (state.has(bytes(range(8))), state.has(bytes(range(8, 16)))) == (True, True)
    assert state.has(bytes(range(4, 12))) is False
