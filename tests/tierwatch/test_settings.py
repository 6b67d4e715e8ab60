"""Settings: precedence, validation messages, and the generated reference kept current."""

from __future__ import annotations

from pathlib import Path

import pytest

from tierwatch.settings import SettingsError, load_settings, reference

ROOT = Path(__file__).resolve().parents[2]


def test_defaults() -> None:
    settings = load_settings(None)
    assert settings.database.url == "sqlite:///./tierwatch.db"
    assert settings.server.port == 4318
    assert settings.collector.max_body_bytes == 64 * 1024 * 1024
    assert settings.privacy.allowed_tiers("any") == frozenset({"device"})


def test_precedence_defaults_file_environment_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "tw.toml"
    config.write_text(
        '[database]\nurl = "sqlite:///file.db"\n[collector]\nretention_days = 7\nmax_queued_requests = 3\n'
        '[privacy.fleets]\nrobots = ["device", "edge"]\n'
    )
    settings = load_settings(config)
    assert (settings.database.url, settings.collector.retention_days) == ("sqlite:///file.db", 7)
    assert settings.privacy.allowed_tiers("robots") == frozenset({"device", "edge"})
    # the environment beats the file
    monkeypatch.setenv("TIERWATCH_COLLECTOR__RETENTION_DAYS", "9")
    monkeypatch.setenv("TIERWATCH_DATABASE_URL", "sqlite:///env.db")
    settings = load_settings(config)
    assert (settings.database.url, settings.collector.retention_days) == ("sqlite:///env.db", 9)
    assert settings.collector.max_queued_requests == 3
    # flags beat the environment
    settings = load_settings(config, **{"database.url": "sqlite:///flag.db", "server.port": None})
    assert (settings.database.url, settings.server.port) == ("sqlite:///flag.db", 4318)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        # a misspelt key is named
        (
            "[collector]\nmax_body_byte = 1\n",
            "invalid setting collector.max_body_byte: Extra inputs are not permitted",
        ),
        # a misspelt section is named
        ("[colector]\nx = 1\n", "invalid setting colector: Extra inputs are not permitted"),
        # bounds are checked
        (
            "[server]\nport = 0\n",
            "invalid setting server.port: Input should be greater than or equal to 1",
        ),
        # tiers in the privacy policy must exist
        (
            '[privacy]\nsensitive_allowed_tiers = ["phone"]\n',
            "invalid setting privacy.sensitive_allowed_tiers: Value error, unknown tier 'phone'; tiers are device, edge, cloud",
        ),
        # a price names a known tier
        (
            '[[costs]]\ntier = "phone"\nper_call = 1\n',
            "invalid setting costs.0.tier: Value error, unknown tier 'phone'; tiers are device, edge, cloud",
        ),
        # amounts are not negative
        (
            '[[costs]]\ntier = "cloud"\nper_call = -0.5\n',
            "invalid setting costs.0.per_call: Input should be greater than or equal to 0",
        ),
        # a misspelt amount is named
        (
            '[[costs]]\ntier = "cloud"\nper_cal = 1\n',
            "invalid setting costs.0.per_cal: Extra inputs are not permitted",
        ),
        # a price without an amount
        (
            '[[costs]]\ntier = "edge"\n',
            "invalid setting costs.0: Value error, a price needs at least one of per_call, "
            "per_1k_input_tokens, per_1k_output_tokens, per_node_hour",
        ),
        # devices have no nodes to pay by the hour
        (
            '[[costs]]\ntier = "device"\nper_node_hour = 1\n',
            "invalid setting costs.0: Value error, per_node_hour prices edge and cloud nodes; "
            "devices have none",
        ),
        # one price per tier and model
        (
            '[[costs]]\ntier = "cloud"\nper_call = 1\n'
            '[[costs]]\ntier = "cloud"\nmodel = "m"\nper_call = 2\n'
            '[[costs]]\ntier = "cloud"\nmodel = "m"\nper_call = 3\n',
            "invalid setting costs: Value error, entries 1 and 2 both price cloud model m; keep one",
        ),
    ],
)
def test_invalid_settings_name_the_key(tmp_path: Path, toml: str, message: str) -> None:
    config = tmp_path / "tw.toml"
    config.write_text(toml)
    with pytest.raises(SettingsError) as info:
        load_settings(config)
    assert str(info.value) == message


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[x")
    with pytest.raises(SettingsError, match="is not valid TOML"):
        load_settings(bad)


def test_every_setting_is_documented() -> None:
    # docs/configuration.md is generated; regenerate with `python -m tierwatch.settings`
    assert (ROOT / "docs" / "configuration.md").read_text() == reference()
    for line in reference().splitlines():
        if line.startswith("| `"):
            assert not line.endswith("|  |"), f"undocumented setting: {line}"


OBJECTIVE = '[[objectives]]\nname = "a"\ntask = "photo-tag"\n'


def test_objectives_one_row_per_kind(tmp_path: Path) -> None:
    config = tmp_path / "tw.toml"
    config.write_text(
        OBJECTIVE + "latency = { threshold_ms = 300, target = 0.95 }\n"
        'availability = { target = 0.995 }\nquality = { floor = 0.9 }\nperiod = "7d"\n'
        '[[objectives]]\nname = "b"\ntask = "caption"\nfleet = "robots"\n'
        "availability = { target = 0.99 }\n"
    )
    first, second = load_settings(config).objectives
    assert (first.kinds(), first.period, first.fleet) == (
        ["latency", "availability", "quality"], "7d", None
    )  # fmt: skip
    assert (first.latency.threshold_ms, first.target("quality")) == (300.0, 0.9)  # type: ignore[union-attr]
    assert (second.kinds(), second.period, second.fleet) == (["availability"], "28d", "robots")


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        # names are unique
        (
            OBJECTIVE
            + "availability = { target = 0.9 }\n"
            + OBJECTIVE
            + "availability = { target = 0.9 }\n",
            "invalid setting objectives: Value error, objective name 'a' is used twice",
        ),
        # targets lie strictly between 0 and 1
        (
            OBJECTIVE + "latency = { threshold_ms = 300, target = 1 }\n",
            "invalid setting objectives.0.latency.target: Input should be less than 1",
        ),
        # so do floors
        (
            OBJECTIVE + "quality = { floor = 0 }\n",
            "invalid setting objectives.0.quality.floor: Input should be greater than 0",
        ),
        # a threshold is above zero
        (
            OBJECTIVE + "latency = { threshold_ms = 0, target = 0.9 }\n",
            "invalid setting objectives.0.latency.threshold_ms: Input should be greater than 0",
        ),
        # the period is a duration
        (
            OBJECTIVE + 'period = "a month"\navailability = { target = 0.9 }\n',
            "invalid setting objectives.0.period: Value error, invalid duration 'a month': "
            "A duration must be a number with a unit: s, m, h, d or w (e.g. 90s, 15m, 1h30m, 7d).",
        ),
        # at least one kind
        (
            OBJECTIVE,
            "invalid setting objectives.0: Value error, objective 'a' names none of latency, "
            "availability and quality",
        ),
        # a misspelt kind is named
        (
            OBJECTIVE + "latncy = { target = 0.9 }\n",
            "invalid setting objectives.0.latncy: Extra inputs are not permitted",
        ),
        # a misspelt key inside a kind too
        (
            OBJECTIVE + "availability = { goal = 0.9 }\n",
            "invalid setting objectives.0.availability.target: Field required\n"
            "invalid setting objectives.0.availability.goal: Extra inputs are not permitted",
        ),
    ],
)
def test_invalid_objectives_name_the_key(tmp_path: Path, toml: str, message: str) -> None:
    config = tmp_path / "tw.toml"
    config.write_text(toml)
    with pytest.raises(SettingsError) as info:
        load_settings(config)
    assert str(info.value) == message
