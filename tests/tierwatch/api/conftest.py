"""Fixtures of the read API tests: a recording HTTP receiver for the alerting hooks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.analytics.alerting.receiver import Receiver, running


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver answering 200 to everything (tests replace ``script``)."""
    with running() as rec:
        yield rec
