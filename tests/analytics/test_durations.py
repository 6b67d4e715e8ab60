"""Durations and times as people type them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from analytics.durations import (
    BadDuration,
    format_duration,
    parse_duration,
    parse_time,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),  # seconds
        ("15m", timedelta(minutes=15)),  # minutes
        ("1h", timedelta(hours=1)),  # hours
        ("1h30m", timedelta(minutes=90)),  # combined units
        ("7d", timedelta(days=7)),  # days
        ("2w", timedelta(weeks=2)),  # weeks
        (" 24H ", timedelta(hours=24)),  # spaces and case do not matter
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "1", "h", "1x", "1h 30m", "-1h", "0m", "1.5h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(BadDuration):
        parse_duration(text)


@pytest.mark.parametrize(
    ("delta", "text"),
    [(timedelta(hours=1), "1h"), (timedelta(minutes=90), "1h30m"), (timedelta(days=1), "1d")],
)
def test_format_duration(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-31T12:00:00Z", datetime(2025, 1, 31, 12, tzinfo=UTC)),  # Z suffix
        ("2025-01-31T12:00:00", datetime(2025, 1, 31, 12, tzinfo=UTC)),  # naive means UTC
        ("2025-01-31T13:00:00+01:00", datetime(2025, 1, 31, 12, tzinfo=UTC)),  # offset
    ],
)
def test_parse_time(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected


def test_bad_time() -> None:
    with pytest.raises(ValueError, match="invalid time 'yesterday': use ISO 8601"):
        parse_time("yesterday")
