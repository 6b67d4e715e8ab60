"""Times as tierwatch writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest
from pydantic import TypeAdapter

from analytics.times import Time, TimeRange, format_time

NOON = datetime(2025, 1, 31, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "timespec", "expected"),
    [
        # UTC ends in Z
        (NOON, "auto", "2025-01-31T12:00:00Z"),
        # microseconds appear only when there are some
        (NOON.replace(microsecond=250_000), "auto", "2025-01-31T12:00:00.250000Z"),
        # alert times are written to the millisecond
        (NOON, "milliseconds", "2025-01-31T12:00:00.000Z"),
        # another zone is converted to UTC
        (
            datetime(2025, 1, 31, 13, 0, tzinfo=timezone(timedelta(hours=1))),
            "auto",
            "2025-01-31T12:00:00Z",
        ),
        # a naive time is taken as UTC
        (datetime(2025, 1, 31, 12, 0), "auto", "2025-01-31T12:00:00Z"),
        # a pandas timestamp, as data frames hold them
        (
            pd.Timestamp("2025-01-31T12:00:00.5", tz="UTC"),
            "milliseconds",
            "2025-01-31T12:00:00.500Z",
        ),
    ],
)
def test_format_time(moment: datetime, timespec: str, expected: str) -> None:
    assert format_time(moment, timespec=timespec) == expected


def test_time_is_written_with_format_time_in_json_only() -> None:
    adapter = TypeAdapter(TimeRange)
    period = TimeRange(NOON - timedelta(hours=1), NOON)
    assert adapter.dump_json(period) == (
        b'{"start":"2025-01-31T11:00:00Z","end":"2025-01-31T12:00:00Z"}'
    )
    assert adapter.dump_python(period) == {"start": NOON - timedelta(hours=1), "end": NOON}
    assert TypeAdapter(Time).json_schema(mode="serialization") == {
        "type": "string",
        "format": "date-time",
    }
