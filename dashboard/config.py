"""The dashboard settings section: auto-refresh and how long a browser stays signed in."""

from __future__ import annotations

from pydantic import Field

from collector.config import Section


class DashboardSettings(Section):
    """The operators' dashboard under ``/dashboard/``."""

    refresh_seconds: int = Field(
        default=60,
        ge=0,
        description="How often an open page reloads its data; 0 turns auto-refresh off.",
    )
    session_hours: float = Field(
        default=12.0,
        gt=0,
        description="How long a browser stays signed in with the token it gave (cookie lifetime).",
    )
