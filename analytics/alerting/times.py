"""Alerting times: Unix milliseconds in the store, aware UTC datetimes everywhere else."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from analytics.times import format_time


def to_ms(moment: datetime) -> int:
    """Unix milliseconds of an aware (or UTC-naive) datetime."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    """The UTC datetime of Unix milliseconds."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def iso(ms: int | None) -> str | None:
    """Unix milliseconds as ISO 8601 UTC (``Z``), or ``None``."""
    if ms is None:
        return None
    return format_time(from_ms(ms), timespec="milliseconds")


def ms_column(values: pd.Series) -> pd.Series:
    """A column of Unix milliseconds (with nulls) as UTC timestamps (``NaT`` for nulls)."""
    return pd.to_datetime(pd.to_numeric(values, errors="coerce"), unit="ms", utc=True)
