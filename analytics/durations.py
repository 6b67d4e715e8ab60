"""Durations as people type them (``90s``, ``15m``, ``1h``, ``1h30m``, ``7d``, ``2w``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_PART = re.compile(r"(\d+)([smhdw])")


class BadDuration(ValueError):
    """A duration must be a number with a unit: s, m, h, d or w (e.g. 90s, 15m, 1h30m, 7d)."""


def parse_duration(text: str) -> timedelta:
    """The :class:`timedelta` written as ``text``, e.g. ``"1h30m"``; at least one second."""
    cleaned = text.strip().lower()
    parts = _PART.findall(cleaned)
    if not parts or "".join(n + u for n, u in parts) != cleaned:
        raise BadDuration(f"invalid duration {text!r}: {BadDuration.__doc__}")
    seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise BadDuration(f"invalid duration {text!r}: it must be longer than zero")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The shortest way to write ``delta`` in the units :func:`parse_duration` reads."""
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return "0s"
    out = []
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)


def parse_time(text: str) -> datetime:
    """An ISO 8601 time; one without a zone is taken as UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"invalid time {text!r}: use ISO 8601, e.g. 2025-01-31T12:00:00Z") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def to_unix(moment: datetime) -> int:
    """Whole Unix seconds of an aware (or UTC-naive) datetime."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def from_unix(seconds: int) -> datetime:
    """The UTC datetime of Unix seconds."""
    return datetime.fromtimestamp(seconds, tz=UTC)
