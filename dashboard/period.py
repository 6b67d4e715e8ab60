"""The time-range control: which window is judged against which baseline, ending now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from analytics.baselines import cut_to_minute
from analytics.config import AnalyticsSettings
from analytics.durations import parse_duration
from analytics.timeseries import pick_step

#: Windows offered by the control: (value, label).
WINDOWS = (
    ("15m", "last 15 minutes"),
    ("1h", "last hour"),
    ("6h", "last 6 hours"),
    ("24h", "last 24 hours"),
    ("7d", "last 7 days"),
)
#: The baseline the history allows: the same hours of earlier days where the store holds them.
USUAL = "usual"
#: Baselines offered by the control: (value, label).
BASELINES = (
    ("usual", "the usual for this time"),
    ("1h", "the hour before"),
    ("6h", "the 6 hours before"),
    ("24h", "the 24 hours before"),
    ("7d", "the 7 days before"),
)


@dataclass(frozen=True)
class TimeRange:
    """A window ``[window_start, end)`` and the baseline right before it, as UTC times."""

    window: str
    baseline: str
    end: datetime
    window_start: datetime
    baseline_start: datetime

    def step(self, *, points: int) -> int:
        """The chart step in seconds that draws baseline and window in at most ``points``."""
        return pick_step(self.end - self.baseline_start, points=points)

    def describe(self) -> str:
        """E.g. ``window 1h (11:00 to 12:00 UTC) against the 24h before``."""
        fmt = "%H:%M" if self.end - self.window_start < timedelta(days=1) else "%b %d %H:%M"
        return f"window {self.window} ({self.window_start:{fmt}} to {self.end:{fmt}} UTC) " + (
            "against the usual for this time"
            if self.baseline == USUAL
            else f"against the {self.baseline} before"
        )


def options(choices: tuple[tuple[str, str], ...], default: str) -> list[dict[str, str]]:
    """Dropdown options for ``choices``, with the configured ``default`` added when missing."""
    out = [{"value": value, "label": label} for value, label in choices]
    if default not in {value for value, _ in choices}:
        out.append({"value": default, "label": f"{default} (default)"})
    return out


def _pick(text: str | None, choices: tuple[tuple[str, str], ...], default: str) -> str:
    # Only offered lengths are accepted, so a page cannot be made to read an unbounded period.
    return text if text in {value for value, _ in choices} else default


def time_range(
    window: str | None, baseline: str | None, *, now: datetime, settings: AnalyticsSettings
) -> TimeRange:
    """The range the control asks for at ``now``; a missing or unknown value takes the default.

    The end is cut to the minute, as in every health report, so the minute still
    filling up is never judged against complete ones.
    """
    window = _pick(window, WINDOWS, settings.default_window)
    baseline = _pick(baseline, BASELINES, USUAL)
    end = cut_to_minute(now)
    window_start = end - parse_duration(window)
    # The calendar baseline spans earlier days; charts show the default baseline's length.
    before = settings.default_baseline if baseline == USUAL else baseline
    return TimeRange(
        window=window,
        baseline=baseline,
        end=end,
        window_start=window_start,
        baseline_start=window_start - parse_duration(before),
    )
