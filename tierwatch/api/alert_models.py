"""Response and request models of the alerting routers, and data frames turned into them."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from pydantic import BaseModel, Field, field_validator

from analytics.times import format_time


class AlertModel(BaseModel):
    """An alert: one rule on one segment, in its latest state."""

    fingerprint: str = Field(description="Stable hash of the rule and the segment key.")
    rule: str = Field(description="segment_degraded, privacy_violation or an operator rule.")
    severity: str = Field(description="info, warning or critical.")
    state: str = Field(description="pending, firing, resolved or inactive.")
    fleet: str
    labels: dict[str, str] = Field(description="alertname, severity, the segment key, rule labels.")
    annotations: dict[str, str]
    summary: str
    value: float | None = Field(description="The metric value at the last evaluation.")
    active_since: str | None = Field(description="When the rule's condition became true.")
    started_at: str | None = Field(description="When the alert fired (null while pending).")
    resolved_at: str | None
    last_evaluated_at: str | None
    silenced_by: int | None = Field(description="The silence muting it at the last evaluation.")


class AlertEventModel(BaseModel):
    """One state change of an alert."""

    id: int
    fingerprint: str
    fleet: str
    at: str
    from_state: str | None = Field(description="null when the alert first appeared.")
    to_state: str
    value: float | None
    summary: str


class AlertsResponse(BaseModel):
    """Alerts, firing first, then pending, resolved and inactive."""

    alerts: list[AlertModel]


class AlertDetail(AlertModel):
    """An alert with its history, newest change first."""

    history: list[AlertEventModel]


class AlertHistoryResponse(BaseModel):
    """State changes of every alert, newest first."""

    events: list[AlertEventModel]


class DeliveryModel(BaseModel):
    """One notification to one hook and how its delivery went."""

    id: int
    webhook_id: str = Field(description="Sent as webhook-id on every attempt; de-duplicate by it.")
    hook: str
    kind: str = Field(description="webhook, alertmanager or slack.")
    event: str = Field(description="firing, resolved or test.")
    fingerprint: str | None = Field(description="The alert's; null for a test notification.")
    fleet: str | None
    status: str = Field(description="pending, delivered, failed (not retryable) or dead.")
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: str | None
    next_attempt_at: str | None
    delivered_at: str | None


class DeliveriesResponse(BaseModel):
    """Notifications, newest first."""

    deliveries: list[DeliveryModel]


def _no_nul(value: str | None) -> str | None:
    # PostgreSQL text cannot hold NUL; refuse it here rather than fail on write.
    if value is not None and "\x00" in value:
        raise ValueError("text cannot contain NUL characters")
    return value


class MatcherModel(BaseModel):
    """A label condition: = and != compare, =~ and !~ match a whole-value regular expression."""

    name: str = Field(description="Label name, e.g. tier or alertname.")
    op: str = Field(default="=", description="=, !=, =~ or !~.")
    value: str

    _text = field_validator("name", "value")(_no_nul)


class SilenceModel(BaseModel):
    """A silence: matching alerts are not notified until it ends."""

    id: int
    fleet: str | None = Field(description="The fleet it applies to (null: every fleet).")
    matchers: list[MatcherModel]
    starts_at: str | None
    ends_at: str | None
    created_by: str
    comment: str
    created_at: str | None
    active: bool


class SilencesResponse(BaseModel):
    """Silences, newest first."""

    silences: list[SilenceModel]


class SilenceCreate(BaseModel):
    """A new silence: matchers, when it ends (a time or a duration from now), who and why."""

    matchers: list[MatcherModel] = Field(min_length=1)
    starts_at: str | None = Field(default=None, description="ISO 8601; default now.")
    ends_at: str | None = Field(default=None, description="ISO 8601; or give duration.")
    duration: str | None = Field(default=None, description="e.g. 2h, from starts_at.")
    created_by: str = Field(min_length=1, max_length=128)
    comment: str = Field(min_length=1)

    _text = field_validator("created_by", "comment", "starts_at", "ends_at", "duration")(_no_nul)


class SilenceUpdate(BaseModel):
    """Changes to a silence; fields left out stay as they are."""

    matchers: list[MatcherModel] | None = None
    ends_at: str | None = Field(default=None, description="ISO 8601.")
    comment: str | None = None

    _text = field_validator("ends_at", "comment")(_no_nul)


class HookModel(BaseModel):
    """A configured hook; its URL, secret and header values are not shown (credentials)."""

    name: str
    kind: str
    host: str
    fleets: list[str]
    severities: list[str]
    signed: bool = Field(description="Whether notifications carry a webhook-signature.")
    headers: list[str] = Field(
        default_factory=list,
        description="Names of the extra headers sent (Authorization included); never their values.",
    )


class HooksResponse(BaseModel):
    hooks: list[HookModel]


class HookTestResult(BaseModel):
    """The first attempt of a test notification."""

    delivery_id: int
    webhook_id: str
    status: str = Field(description="delivered, pending (will be retried), failed or dead.")
    status_code: int | None
    error: str | None


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a data frame as JSON-ready dicts: times in ISO 8601 UTC, nulls as ``None``."""
    return [record(row) for row in frame.to_dict("records")]


def record(row: dict[Any, Any]) -> dict[str, Any]:
    """One row (a dict) as JSON-ready values."""
    return {str(key): _plain(value) for key, value in row.items()}


def _plain(value: Any) -> Any:
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        return format_time(value, timespec="milliseconds")
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value
