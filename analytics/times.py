"""Times as tierwatch writes them: ISO 8601 in UTC, ending in ``Z``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from pydantic import PlainSerializer, WithJsonSchema


def format_time(moment: datetime, *, timespec: str = "auto") -> str:
    """``moment`` as ISO 8601 UTC with a ``Z``, e.g. ``2025-01-31T12:00:00Z``.

    A naive ``moment`` is taken as UTC; ``timespec`` is :meth:`datetime.isoformat`'s
    (``auto`` shows microseconds only when there are some).
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


#: A datetime that JSON (the API, ``tierwatch report --json``) writes with :func:`format_time`.
Time = Annotated[
    datetime,
    PlainSerializer(format_time, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]


@dataclass(frozen=True)
class TimeRange:
    """A half-open time range ``[start, end)``."""

    start: Time
    end: Time
