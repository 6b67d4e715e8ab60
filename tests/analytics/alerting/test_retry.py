"""The retry stage: exponential backoff with jitter, Retry-After, and the maximum age."""

from __future__ import annotations

import random

import pytest

from analytics.alerting.retry import Backoff, expired, next_attempt_at

POLICY = Backoff(initial=5.0, maximum=300.0, max_age=3600.0)
T0 = 1_735_819_200_000


@pytest.mark.parametrize(
    ("attempts", "low", "high"),
    [
        # after the first failure: 5 s, half of it jittered
        (1, 2.5, 5.0),
        # doubling
        (2, 5.0, 10.0),
        (3, 10.0, 20.0),
        # capped at the maximum
        (10, 150.0, 300.0),
    ],
)
def test_delay_grows_and_is_jittered(attempts: int, low: float, high: float) -> None:
    rng = random.Random(7)
    delays = [POLICY.delay(attempts, rng) for _ in range(200)]
    assert low <= min(delays) and max(delays) <= high
    # jitter spreads retries out
    assert len({round(d, 6) for d in delays}) > 150


@pytest.mark.parametrize(
    ("attempts", "created_at", "now", "retry_after", "expected"),
    [
        # Retry-After longer than the backoff wins
        (1, T0, T0, 30.0, T0 + 30_000),
        # Retry-After shorter than the backoff does not shorten it (rng fixed: 0.5 of the jitter)
        (3, T0, T0, 1.0, T0 + 15_000),
        # past the maximum age: dead
        (1, T0, T0 + 3_598_000, None, None),
        # a Retry-After beyond the maximum age: dead too
        (1, T0, T0, 4000.0, None),
    ],
)
def test_next_attempt(
    attempts: int, created_at: int, now: int, retry_after: float | None, expected: int | None
) -> None:
    class Half(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return (a + b) / 2

    got = next_attempt_at(
        POLICY,
        attempts=attempts,
        created_at=created_at,
        now=now,
        retry_after=retry_after,
        rng=Half(),
    )
    assert got == expected


def test_expired() -> None:
    assert expired(POLICY, created_at=T0, now=T0 + 3_600_000) is False
    assert expired(POLICY, created_at=T0, now=T0 + 3_600_001) is True
