"""The [alerts] settings: a full example loads, and mistakes name their key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from analytics.metrics import METRICS
from tests.analytics.alerting.conftest import SECRET
from tierwatch.settings import SettingsError, load_settings

EXAMPLE = f"""
[alerts]
allowed_hosts = ["hooks.example.com", "*.slack.com"]
repeat_interval = "2h"

[[alerts.rules]]
name = "device_p95_latency"
metric = "latency_p95_ms"
match = {{ tier = "device" }}
op = ">"
threshold = 120
for = "5m"
severity = "warning"
labels = {{ team = "mobile" }}

[[alerts.hooks]]
name = "ops"
kind = "alertmanager"
url = "https://hooks.example.com/am"
secret = "{SECRET}"

[[alerts.hooks]]
name = "chat"
kind = "slack"
url = "https://hooks.slack.com/services/T/B/X"
"""


def test_example_configuration(tmp_path: Path) -> None:
    config = tmp_path / "tw.toml"
    config.write_text(EXAMPLE)
    alerts = load_settings(config).alerts
    (rule,) = alerts.rules
    assert (rule.name, rule.metric, rule.match, rule.op, rule.threshold) == (
        "device_p95_latency",
        "latency_p95_ms",
        {"tier": "device"},
        ">",
        120.0,
    )
    assert (rule.for_duration, rule.severity, rule.labels) == (
        timedelta(minutes=5),
        "warning",
        {"team": "mobile"},
    )
    assert [(h.name, h.kind) for h in alerts.hooks] == [("ops", "alertmanager"), ("chat", "slack")]
    assert alerts.hook("ops") is not None and alerts.hook("nope") is None
    # the secret never shows in a repr
    assert SECRET not in repr(alerts)


def test_settings_survive_a_round_trip_through_json(tmp_path: Path) -> None:
    # serve --workers hands the settings to each worker as JSON
    config = tmp_path / "tw.toml"
    config.write_text(EXAMPLE)
    settings = load_settings(config)
    again = type(settings).model_validate_json(settings.model_dump_json())
    assert again.alerts == settings.alerts


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        # an unknown metric
        (
            '[[alerts.rules]]\nname = "r"\nmetric = "latency"\n',
            "invalid setting alerts.rules.0.metric: Value error, unknown metric 'latency'; metrics are "
            + ", ".join(METRICS),
        ),
        # an unknown dimension in the selector
        (
            '[[alerts.rules]]\nname = "r"\nmetric = "error_rate"\nmatch = { phone = "x" }\n',
            "invalid setting alerts.rules.0.match: Value error, unknown dimension 'phone'; dimensions are fleet, tier, task, model, model_version, device_model, region, app_version, node",
        ),
        # a bad for duration
        (
            '[[alerts.rules]]\nname = "r"\nmetric = "error_rate"\nfor = "soon"\n',
            "invalid setting alerts.rules.0.for: Value error, invalid duration 'soon': A duration must be a number with a unit: s, m, h, d or w (e.g. 90s, 15m, 1h30m, 7d).",
        ),
        # a built-in rule's name
        (
            '[[alerts.rules]]\nname = "segment_degraded"\nmetric = "error_rate"\n',
            "invalid setting alerts.rules.0.name: Value error, rule name 'segment_degraded' is taken by a built-in rule",
        ),
        # an unknown comparison
        (
            '[[alerts.rules]]\nname = "r"\nmetric = "error_rate"\nop = "=="\n',
            "invalid setting alerts.rules.0.op: Input should be '>', '>=', '<' or '<='",
        ),
        # a hook without a secret
        (
            '[[alerts.hooks]]\nname = "ops"\nurl = "https://h.example.com/"\n',
            "invalid setting alerts.hooks.0: Value error, hook 'ops': needs a secret (whsec_<base64>, or secret_file) to sign its notifications",
        ),
        # a secret from an environment variable that is not set
        (
            '[[alerts.hooks]]\nname = "ops"\nurl = "https://h.example.com/"\nsecret = "${TW_TEST_UNSET}"\n',
            "invalid setting alerts.hooks.0: Value error, hook 'ops': secret names the environment variable TW_TEST_UNSET, which is not set; set TW_TEST_UNSET in the server's environment, or write the value in a file and use secret_file",
        ),
        # a secret file that does not exist
        (
            '[[alerts.hooks]]\nname = "ops"\nurl = "https://h.example.com/"\nsecret_file = "/nonexistent/secret"\n',
            "invalid setting alerts.hooks.0: Value error, hook 'ops': secret_file = '/nonexistent/secret' cannot be read (No such file or directory); make the file readable by the server's user, or set the value from the environment instead",
        ),
        # a secret given twice
        (
            f'[[alerts.hooks]]\nname = "ops"\nurl = "https://h.example.com/"\nsecret = "{SECRET}"\nsecret_file = "/x"\n',
            "invalid setting alerts.hooks.0: Value error, hook 'ops': set secret or secret_file, not both",
        ),
        # a header from an environment variable that is not set
        (
            '[[alerts.hooks]]\nname = "am"\nkind = "alertmanager"\nurl = "https://am.example.com/"\nheaders = { Authorization = "Bearer ${TW_TEST_UNSET}" }\n',
            "invalid setting alerts.hooks.0: Value error, hook 'am': headers.Authorization names the environment variable TW_TEST_UNSET, which is not set; set TW_TEST_UNSET in the server's environment",
        ),
        # an unreadable basic auth password file
        (
            '[[alerts.hooks]]\nname = "am"\nkind = "alertmanager"\nurl = "https://am.example.com/"\nbasic_auth = { username = "tw", password_file = "/nonexistent/pw" }\n',
            "invalid setting alerts.hooks.0: Value error, hook 'am': basic_auth.password_file = '/nonexistent/pw' cannot be read (No such file or directory); make the file readable by the server's user, or set the value from the environment instead",
        ),
        # two ways of authorising
        (
            '[[alerts.hooks]]\nname = "am"\nkind = "alertmanager"\nurl = "https://am.example.com/"\nbearer_token = "a"\nheaders = { Authorization = "Bearer b" }\n',
            "invalid setting alerts.hooks.0: Value error, hook 'am': set one of headers.Authorization, bearer_token(_file) and basic_auth",
        ),
        # a header tierwatch sets itself
        (
            '[[alerts.hooks]]\nname = "am"\nkind = "alertmanager"\nurl = "https://am.example.com/"\nheaders = { Host = "x" }\n',
            "invalid setting alerts.hooks.0.headers: Value error, header 'Host' is set by tierwatch and cannot be configured",
        ),
        # a secret in the wrong form
        (
            '[[alerts.hooks]]\nname = "ops"\nurl = "https://h.example.com/"\nsecret = "hunter2"\n',
            "invalid setting alerts.hooks.0: Value error, hook 'ops': secret: the secret must start with 'whsec_': A signing secret must be whsec_ followed by base64 of 24 to 64 bytes.",
        ),
        # a URL that is not http(s)
        (
            f'[[alerts.hooks]]\nname = "ops"\nurl = "gopher://h.example.com/"\nsecret = "{SECRET}"\n',
            "invalid setting alerts.hooks.0: Value error, hook URL 'gopher://h.example.com/' must start with http:// or https://",
        ),
        # a host outside the allow-list
        (
            f'[alerts]\nallowed_hosts = ["hooks.example.com"]\n[[alerts.hooks]]\nname = "ops"\nurl = "http://10.0.0.5/"\nsecret = "{SECRET}"\n',
            "invalid setting alerts: Value error, hook URL 'http://10.0.0.5/': host '10.0.0.5' is not in alerts.allowed_hosts (hooks.example.com)",
        ),
        # two hooks of one name
        (
            f'[[alerts.hooks]]\nname = "ops"\nurl = "https://a.example.com/"\nsecret = "{SECRET}"\n[[alerts.hooks]]\nname = "ops"\nurl = "https://b.example.com/"\nsecret = "{SECRET}"\n',
            "invalid setting alerts: Value error, hook name 'ops' is used twice",
        ),
        # a lease shorter than the evaluation interval
        (
            "[alerts]\nevaluation_interval_seconds = 60\nlease_seconds = 30\n",
            "invalid setting alerts: Value error, lease_seconds must exceed evaluation_interval_seconds",
        ),
        # a hook time-out longer than the claim
        (
            f'[alerts]\nclaim_seconds = 5\n[[alerts.hooks]]\nname = "ops"\nurl = "https://a.example.com/"\nsecret = "{SECRET}"\ntimeout_seconds = 10\n',
            "invalid setting alerts: Value error, hook 'ops': timeout_seconds must be below claim_seconds (5)",
        ),
    ],
)
def test_mistakes_name_their_key(tmp_path: Path, toml: str, message: str) -> None:
    config = tmp_path / "tw.toml"
    config.write_text(toml)
    with pytest.raises(SettingsError) as info:
        load_settings(config)
    assert str(info.value) == message
