"""Fixtures of the alerting tests: a recording HTTP receiver, a secret, a fixed clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.analytics.alerting.receiver import Receiver, running

#: The Standard Webhooks specification's example secret.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Clock:
    """A clock the test moves by hand (Unix milliseconds)."""

    def __init__(self, now: int = 1_735_819_200_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> Clock:
        """Move on by ``seconds``; the clock itself, to pass on."""
        self.now += round(seconds * 1000)
        return self


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver answering 200 to everything (tests replace ``script``)."""
    with running() as rec:
        yield rec


@pytest.fixture
def clock() -> Clock:
    return Clock()
