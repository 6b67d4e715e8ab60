"""Colours, status marks, chart style and display limits: the one place the dashboard's look lives.

Status colours come from the Okabe-Ito palette, which people with the common
colour-vision deficiencies can tell apart; every status is also drawn with its
own icon and written out, so colour is never the only cue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The Okabe-Ito palette.
BLACK = "#000000"
ORANGE = "#E69F00"
SKY_BLUE = "#56B4E9"
BLUISH_GREEN = "#009E73"
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
REDDISH_PURPLE = "#CC79A7"
GREY = "#999999"

INK = "#1b1f24"
MUTED = "#57606a"
RULE = "#d0d7de"
PAPER = "#ffffff"
BACKGROUND = "#f6f8fa"
#: Fill of the baseline band and of the judged window on time charts.
BAND_FILL = "rgba(0, 114, 178, 0.12)"
WINDOW_FILL = "rgba(230, 159, 0, 0.10)"


@dataclass(frozen=True)
class StatusStyle:
    """How one status is shown: colour, icon and words."""

    colour: str
    icon: str
    label: str


STATUS = {
    "ok": StatusStyle(BLUISH_GREEN, "✓", "ok"),
    "warn": StatusStyle(ORANGE, "▲", "warn"),
    "degraded": StatusStyle(VERMILLION, "✕", "degraded"),
    "insufficient_data": StatusStyle("#BBBBBB", "?", "insufficient data"),
}
#: Alert severities (the alert rules' words) shown the same way.
ALERT_SEVERITY = {
    "critical": StatusStyle(VERMILLION, "✕", "critical"),
    "warning": StatusStyle(ORANGE, "▲", "warning"),
    "info": StatusStyle(SKY_BLUE, "i", "info"),
}
#: Statuses from worst to best, for sorting what operators should look at first.
STATUS_ORDER = ("degraded", "warn", "insufficient_data", "ok")

TIER_COLOURS = {"device": BLUE, "edge": REDDISH_PURPLE, "cloud": SKY_BLUE}
#: Colours given to model versions (newest first) and fallback reasons, in turn.
SERIES_COLOURS = (BLUE, ORANGE, BLUISH_GREEN, REDDISH_PURPLE, SKY_BLUE, VERMILLION, YELLOW, GREY)

#: Plotly's mode bar without its logo; typed loosely as Dash types the config narrowly.
GRAPH_CONFIG: Any = {"displaylogo": False}
#: How many findings a tier card lists before it says "and N more".
CARD_FINDINGS = 3
#: How many points a time chart aims for (the step is chosen to stay below).
CHART_POINTS = 120
#: How many tasks the cloud escalation chart draws a line for.
ESCALATION_TASKS = 8


def status_style(status: str) -> StatusStyle:
    """The style of ``status`` (an unknown status is shown like missing data)."""
    return STATUS.get(status, STATUS["insufficient_data"])


def series_colour(i: int) -> str:
    """The ``i``-th series colour, cycling."""
    return SERIES_COLOURS[i % len(SERIES_COLOURS)]


def layout_defaults() -> dict[str, Any]:
    """Plotly layout settings every chart starts from."""
    return {
        "template": "plotly_white",
        "font": {
            "family": "system-ui, -apple-system, Segoe UI, sans-serif",
            "size": 12,
            "color": INK,
        },
        "margin": {"l": 56, "r": 16, "t": 40, "b": 40},
        "paper_bgcolor": PAPER,
        "plot_bgcolor": PAPER,
        "legend": {"orientation": "h", "y": -0.18},
        "hovermode": "x unified",
    }
