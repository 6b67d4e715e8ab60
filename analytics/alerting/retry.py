"""The retry stage: when to try a notification again, or to give up (pure, randomness passed in).

Waits grow exponentially from ``backoff_initial_seconds`` up to
``backoff_max_seconds``, with "equal jitter" (half the wait fixed, half random) so
that many notifications failing together do not retry together. A receiver's
``Retry-After`` is honoured: the next attempt is never sooner. A notification
whose next attempt would fall after its maximum age is dead.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """The retry policy (seconds)."""

    initial: float
    maximum: float
    max_age: float

    def delay(self, attempts: int, rng: random.Random) -> float:
        """The wait after the ``attempts``-th failed attempt, jittered."""
        base: float = min(self.maximum, self.initial * 2 ** max(attempts - 1, 0))
        return base / 2 + rng.uniform(0, base / 2)


def next_attempt_at(
    policy: Backoff,
    *,
    attempts: int,
    created_at: int,
    now: int,
    retry_after: float | None,
    rng: random.Random,
) -> int | None:
    """When (Unix ms) to try again after ``attempts`` failed attempts, or ``None``: dead."""
    wait = policy.delay(attempts, rng)
    if retry_after is not None:
        wait = max(wait, retry_after)
    at = now + int(wait * 1000)
    if at > created_at + int(policy.max_age * 1000):
        return None
    return at


def expired(policy: Backoff, *, created_at: int, now: int) -> bool:
    """Whether a notification is past its maximum age (it is not sent any more)."""
    return now > created_at + int(policy.max_age * 1000)
