"""The natural order of version strings: ``2.9.1 < 2.10.0``, ``1.0 < 1.0.1``."""

from __future__ import annotations

import re
from collections.abc import Sequence

_NATURAL = re.compile(r"(\d+)|([A-Za-z]+)")


def version_key(version: str) -> tuple[tuple[int, int, str], ...]:
    """A sort key that orders versions naturally: ``2.9.1 < 2.10.0``, ``1.0 < 1.0.1``."""
    return tuple(
        (1, int(number), "") if number else (0, 0, word.lower())
        for number, word in _NATURAL.findall(version)
    )


def newest(versions: Sequence[str]) -> str | None:
    """The highest of ``versions`` in natural version order."""
    named = [v for v in versions if v]
    return max(named, key=version_key) if named else None
