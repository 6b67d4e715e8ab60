"""The alerts settings section: evaluation, rules, hooks, repeat, retries and the host allow-list.

In the configuration file::

    [alerts]
    allowed_hosts = ["hooks.example.com", "*.slack.com"]

    [[alerts.rules]]
    name = "device_p95_latency"
    metric = "latency_p95_ms"
    match = { tier = "device" }
    op = ">"
    threshold = 120
    for = "5m"
    severity = "warning"
    labels = { team = "mobile" }

    [[alerts.hooks]]
    name = "ops"
    kind = "webhook"
    url = "https://hooks.example.com/tierwatch"
    secret_file = "/run/secrets/tierwatch_hook_secret"

    [[alerts.hooks]]
    name = "am"
    kind = "alertmanager"
    url = "https://alertmanager.example.com"
    headers = { Authorization = "Bearer ${AM_TOKEN}" }

Credentials (``secret``, header values, ``bearer_token``, ``basic_auth.password``)
may name environment variables (``${VAR}``) or come from files (``*_file``); they
are resolved once at start-up (:mod:`collector.credentials`), kept out of reprs
and never shown by the API or CLI.
"""

from __future__ import annotations

import base64
import re
from datetime import timedelta
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import ConfigDict, Field, PrivateAttr, field_validator, model_validator

from analytics.alerting.signing import secret_key
from analytics.alerting.urls import check_url
from analytics.durations import parse_duration
from collector.config import Section
from collector.credentials import expand, one_of
from collector.schema import SEGMENT_DIMENSIONS

#: Names of the built-in rules.
DEGRADED_RULE = "segment_degraded"
PRIVACY_RULE = "privacy_violation"
#: Error budget burn of an objective: fast (page) and slow (ticket).
OBJECTIVE_PAGE_RULE = "objective_page"
OBJECTIVE_TICKET_RULE = "objective_ticket"
BUILTIN_RULES = (DEGRADED_RULE, PRIVACY_RULE, OBJECTIVE_PAGE_RULE, OBJECTIVE_TICKET_RULE)
SEVERITIES = ("info", "warning", "critical")
HOOK_KINDS = ("webhook", "alertmanager", "slack")
OPERATORS = (">", ">=", "<", "<=")
#: Alertmanager's API for posting alerts, under its base URL.
ALERTMANAGER_PATH = "/api/v2/alerts"
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
#: An HTTP header name (RFC 9110 token).
_HEADER = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
#: Headers the sender sets itself.
_RESERVED_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "host",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "transfer-encoding",
        "connection",
    }
)


def parse_for(text: str) -> timedelta:
    """A ``for`` duration: like :func:`parse_duration`, and ``0s`` (or ``0``) for at once."""
    if text.strip() in ("0", "0s"):
        return timedelta(0)
    return parse_duration(text)


def _check_name(value: str, what: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"{what} name {value!r} must be 1-128 letters, digits, '_', '.' or '-'")
    return value


def _check_dimensions(names: list[str] | dict[str, str]) -> None:
    unknown = [d for d in names if d not in SEGMENT_DIMENSIONS]
    if unknown:
        raise ValueError(
            f"unknown dimension {unknown[0]!r}; dimensions are {', '.join(SEGMENT_DIMENSIONS)}"
        )


class AlertRule(Section):
    """An operator's threshold rule: a metric of the matching segments against a threshold."""

    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True)

    name: str = Field(default="", description="Rule name; the alertname label of its alerts.")
    metric: str = Field(
        default="", description="A metric of analytics.metrics.METRICS, e.g. fallback_rate."
    )
    match: dict[str, str] = Field(
        default_factory=dict,
        description="Segment selector: dimension values a segment must have, e.g. tier=device.",
    )
    by: list[str] | None = Field(
        default=None,
        description="Dimensions segments are split by (default alerts.by, plus the match keys).",
    )
    op: Literal[">", ">=", "<", "<="] = Field(default=">", description="Comparison: >, >=, <, <=.")
    threshold: float = Field(default=0.0, description="The value the metric is compared with.")
    for_: str = Field(
        default="0s",
        alias="for",
        description="How long the condition must hold before the alert fires (0s: at once).",
    )
    window: str | None = Field(
        default=None, description="The period the metric is computed over (default rule_window)."
    )
    min_attempts: int = Field(
        default=20, ge=1, description="Fewest window attempts for a segment to be judged."
    )
    severity: Literal["info", "warning", "critical"] = Field(
        default="warning", description="info, warning or critical."
    )
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="Extra labels on the rule's alerts (for silences and routing).",
    )
    summary: str = Field(default="", description="Optional text put before the generated summary.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if value in BUILTIN_RULES:
            raise ValueError(f"rule name {value!r} is taken by a built-in rule")
        return _check_name(value, "rule")

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        # Imported here: settings load without the numeric stack unless rules need it.
        from analytics.metrics import METRICS

        if value not in METRICS:
            raise ValueError(f"unknown metric {value!r}; metrics are {', '.join(METRICS)}")
        return value

    @field_validator("match")
    @classmethod
    def _match(cls, value: dict[str, str]) -> dict[str, str]:
        _check_dimensions(value)
        return value

    @field_validator("by")
    @classmethod
    def _by(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            _check_dimensions(value)
        return value

    @field_validator("for_")
    @classmethod
    def _for(cls, value: str) -> str:
        parse_for(value)
        return value

    @field_validator("window")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @property
    def for_duration(self) -> timedelta:
        """The ``for`` duration."""
        return parse_for(self.for_)


class BasicAuth(Section):
    """HTTP basic authentication for a hook: a user name and a password (or its file)."""

    username: str = Field(default="", description="User name.")
    password: str = Field(default="", description="Password (${VAR} allowed).", repr=False)
    password_file: str = Field(default="", description="File holding the password.")


class HookSettings(Section):
    """One alerting hook: where notifications are sent, in which format, with which credentials."""

    name: str = Field(default="", description="Hook name, used by the API, CLI and deliveries.")
    kind: Literal["webhook", "alertmanager", "slack"] = Field(
        default="webhook",
        description="webhook (generic JSON), alertmanager (Alertmanager's v2 API: url is the "
        "Alertmanager's base URL, alerts are posted to <url>/api/v2/alerts) or slack.",
    )
    url: str = Field(default="", description="http:// or https:// URL the notifications go to.")
    secret: str = Field(
        default="",
        description="Standard Webhooks signing secret, whsec_<base64> (${VAR} allowed); "
        "required for the webhook kind.",
        repr=False,
    )
    secret_file: str = Field(default="", description="File holding the secret, instead of secret.")
    headers: dict[str, str] = Field(
        default_factory=dict,
        description='Extra HTTP headers on every request, e.g. { Authorization = "Bearer '
        '${AM_TOKEN}" }; values may name environment variables.',
        repr=False,
    )
    bearer_token: str = Field(
        default="",
        description="Sent as Authorization: Bearer <token> (${VAR} allowed).",
        repr=False,
    )
    bearer_token_file: str = Field(
        default="", description="File holding the bearer token, instead of bearer_token."
    )
    basic_auth: BasicAuth | None = Field(
        default=None,
        description="HTTP basic authentication: { username, password or password_file }.",
    )
    fleets: list[str] = Field(
        default_factory=list, description="Only alerts of these fleets (empty: every fleet)."
    )
    severities: list[Literal["info", "warning", "critical"]] = Field(
        default_factory=list, description="Only alerts of these severities (empty: all)."
    )
    timeout_seconds: float = Field(
        default=10.0, gt=0, le=300, description="How long one attempt may take."
    )
    resend_interval: str = Field(
        default="1m",
        description="alertmanager kind: firing alerts are sent again this often (at the next "
        "evaluation pass), each time with endsAt three intervals ahead, so Alertmanager keeps "
        "them active for as long as they fire and resolves them on its own if tierwatch stops.",
    )

    _signing_secret: str = PrivateAttr(default="")
    _request_headers: dict[str, str] = PrivateAttr(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_name(value, "hook")

    @field_validator("resend_interval")
    @classmethod
    def _resend(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _HEADER.match(name):
                raise ValueError(f"header name {name!r} is not a valid HTTP header name")
            if name.lower() in _RESERVED_HEADERS:
                raise ValueError(f"header {name!r} is set by tierwatch and cannot be configured")
        return value

    @model_validator(mode="after")
    def _credentials(self) -> HookSettings:
        where = f"hook {self.name!r}: "
        try:
            secret = one_of(self.secret, self.secret_file, key="secret")
            if secret:
                try:
                    secret_key(secret)
                except ValueError as exc:
                    raise ValueError(f"secret: {exc}") from None
            headers = {k: expand(v, key=f"headers.{k}") for k, v in self.headers.items()}
            authorization = [k for k in headers if k.lower() == "authorization"]
            token = one_of(self.bearer_token, self.bearer_token_file, key="bearer_token")
            ways = len(authorization) + bool(token) + (self.basic_auth is not None)
            if ways > 1:
                raise ValueError(
                    "set one of headers.Authorization, bearer_token(_file) and basic_auth"
                )
            if token:
                headers["Authorization"] = f"Bearer {token}"
            if self.basic_auth is not None:
                auth = self.basic_auth
                password = one_of(auth.password, auth.password_file, key="basic_auth.password")
                pair = f"{expand(auth.username, key='basic_auth.username')}:{password}"
                headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        except ValueError as exc:
            raise ValueError(where + str(exc)) from None
        for key, value in headers.items():
            if any(c in value for c in "\r\n\0"):
                raise ValueError(f"{where}the value of header {key!r} holds a line break")
        if not secret and self.kind == "webhook":
            raise ValueError(
                f"{where}needs a secret (whsec_<base64>, or secret_file) to sign its notifications"
            )
        check_url(self.url)
        self._signing_secret = secret
        self._request_headers = headers
        return self

    @property
    def signing_secret(self) -> str:
        """The resolved signing secret ("" when notifications are not signed)."""
        return self._signing_secret

    @property
    def request_headers(self) -> dict[str, str]:
        """The resolved extra headers, authorization included (never show them)."""
        return dict(self._request_headers)

    @property
    def header_names(self) -> list[str]:
        """The names of the extra headers sent (safe to show; the values are not)."""
        return sorted(self._request_headers)

    @property
    def endpoint(self) -> str:
        """Where notifications are posted: ``url``, or for alertmanager its v2 alerts API."""
        if self.kind != "alertmanager":
            return self.url
        parts = urlsplit(self.url)
        path = parts.path.rstrip("/")
        if not path.endswith(ALERTMANAGER_PATH):
            path += ALERTMANAGER_PATH
        return urlunsplit(parts._replace(path=path))

    @property
    def resend_interval_seconds(self) -> float:
        """``resend_interval`` in seconds."""
        return parse_duration(self.resend_interval).total_seconds()

    def __repr__(self) -> str:
        # Never show the secret or header values (logs, reprs of settings).
        return f"HookSettings(name={self.name!r}, kind={self.kind!r}, url={self.url!r})"


class AlertsSettings(Section):
    """Alerting: rules, alert states, silences and signed, retried hook delivery."""

    enabled: bool = Field(
        default=True, description="Run the evaluation and delivery loops in the server."
    )
    evaluation_interval_seconds: float = Field(
        default=30.0, gt=0, description="How often rules are evaluated."
    )
    lease_seconds: float = Field(
        default=90.0,
        gt=0,
        description="How long the evaluating server's lease lasts unrenewed; when a server "
        "dies another takes over after this. Must exceed evaluation_interval_seconds and the "
        "longest evaluation pass.",
    )
    by: list[str] = Field(
        default_factory=lambda: ["fleet", "tier", "task"],
        description="Segment dimensions rules split by (fleet is always added).",
    )
    window: str = Field(
        default="1h", description="Window of the health report the segment_degraded rule reads."
    )
    baseline: str = Field(
        default="",
        description="Baseline of that health report; empty: the best the history allows (the "
        "same hours of earlier days where the store holds them).",
    )
    rule_window: str = Field(
        default="15m",
        description="Period privacy_violation and operator rules compute metrics over.",
    )
    degraded_rule: bool = Field(
        default=True, description="Built-in rule segment_degraded: a segment's status is degraded."
    )
    degraded_for: str = Field(
        default="5m", description="How long a segment must stay degraded before the alert fires."
    )
    privacy_rule: bool = Field(
        default=True,
        description="Built-in rule privacy_violation: any privacy violation in the rule window.",
    )
    privacy_for: str = Field(
        default="0s", description="How long privacy violations must persist before firing."
    )
    rules: list[AlertRule] = Field(
        default_factory=list,
        description="Operator rules, [[alerts.rules]] with name, metric, match (dimension "
        "values), by, op (>, >=, <, <=), threshold, for, window, min_attempts (default 20), "
        "severity (info, warning, critical), labels, summary.",
    )
    hooks: list[HookSettings] = Field(
        default_factory=list,
        description="Hooks, [[alerts.hooks]] with name, kind (webhook, alertmanager, slack), "
        "url, secret (whsec_<base64>) or secret_file, headers, bearer_token(_file), basic_auth, "
        "fleets, severities, timeout_seconds (default 10), resend_interval (alertmanager, "
        "default 1m).",
    )
    repeat_interval: str = Field(
        default="4h", description="A firing alert is notified again after this long."
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts hooks may reach: names, exact (`hooks.example.com`) or with "
        "subdomains (`*.example.com`), addresses (`10.0.0.5`, `::1`) or networks "
        "(`10.0.0.0/8`). Empty: any host with public addresses. Loopback, link-local, "
        "private, multicast and unspecified addresses are reached only when an entry names "
        "the host, its address or its network; a non-empty list also limits hooks to the "
        "hosts it names.",
    )
    delivery_interval_seconds: float = Field(
        default=1.0, gt=0, description="How often the delivery worker looks for due notifications."
    )
    delivery_concurrency: int = Field(
        default=4, ge=1, le=64, description="Notifications sent at once by one server."
    )
    claim_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a server holds a notification it is sending; after a crash "
        "another server (or the restarted one) retries it after this. Must exceed every "
        "hook's timeout_seconds.",
    )
    backoff_initial_seconds: float = Field(
        default=5.0, gt=0, description="Wait before the first retry; doubles on every retry."
    )
    backoff_max_seconds: float = Field(
        default=300.0, gt=0, description="Longest wait between retries (before jitter)."
    )
    max_age: str = Field(
        default="24h",
        description="A notification not delivered this long after it was written is dead.",
    )
    resolved_retention_days: int = Field(
        default=90,
        ge=0,
        description="Resolved and inactive alerts are deleted this long after they ended, with "
        "their history; finished deliveries (not pending) this long after they were written. "
        "Firing and pending alerts and pending deliveries are never deleted. 0 keeps them forever.",
    )
    silence_retention_days: int = Field(
        default=30,
        ge=0,
        description="Silences are deleted this long after they ended; 0 keeps them forever.",
    )
    lease_retention_days: int = Field(
        default=7,
        ge=0,
        description="Leases nobody has held for this long (a renamed job) are deleted; "
        "0 keeps them forever.",
    )

    @field_validator("by")
    @classmethod
    def _by(cls, value: list[str]) -> list[str]:
        _check_dimensions(value)
        return value

    @field_validator("window", "rule_window", "repeat_interval", "max_age")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("baseline")
    @classmethod
    def _baseline(cls, value: str) -> str:
        # Empty is allowed: the report then picks the best baseline the history allows.
        if value:
            parse_duration(value)
        return value

    @field_validator("degraded_for", "privacy_for")
    @classmethod
    def _for(cls, value: str) -> str:
        parse_for(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> AlertsSettings:
        named = (("rule", [r.name for r in self.rules]), ("hook", [h.name for h in self.hooks]))
        for what, names in named:
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"{what} name {repeated[0]!r} is used twice")
        for hook in self.hooks:
            check_url(hook.url, self.allowed_hosts)
            if hook.timeout_seconds >= self.claim_seconds:
                raise ValueError(
                    f"hook {hook.name!r}: timeout_seconds must be below claim_seconds "
                    f"({self.claim_seconds:g})"
                )
        if self.lease_seconds <= self.evaluation_interval_seconds:
            raise ValueError("lease_seconds must exceed evaluation_interval_seconds")
        if self.backoff_max_seconds < self.backoff_initial_seconds:
            raise ValueError("backoff_max_seconds must be at least backoff_initial_seconds")
        return self

    def hook(self, name: str) -> HookSettings | None:
        """The hook called ``name``, if configured."""
        return next((h for h in self.hooks if h.name == name), None)

    def dimensions(self, extra: list[str] | None = None) -> list[str]:
        """``by`` (or ``extra``) with fleet first and no repeats."""
        names = ["fleet", *(self.by if extra is None else extra)]
        return list(dict.fromkeys(names))
