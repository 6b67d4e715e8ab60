"""The metric vocabulary: how each kind of metric is written, the families, and who reads it."""

from __future__ import annotations

import pytest

from analytics import metrics, text, vocabulary
from analytics.config import TESTED_METRICS, AnalyticsSettings
from analytics.vocabulary import FAMILIES, METRICS, format_p, format_value, label, metric
from dashboard import frames


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("error_rate", 0.0042, "0.42%"),  # a rate under 1% keeps two decimals
        ("fallback_rate", 0.125, "12.5%"),  # a rate from 1% keeps one
        ("error_rate", 0.0, "0.00%"),  # no errors at all
        ("error_rate", -0.05, "-5.0%"),  # a negative difference is sized by its magnitude
        ("fallback_rate_timeout", 0.01, "1.0%"),  # a rate per fallback reason
        ("skew_share", 0.25, "25.0%"),  # a share is a rate too
        ("attempts", 1234.0, "1234"),  # a count is a whole number
        ("privacy_violations", 2.6, "3"),  # a count rounds to the nearest
        ("latency_p95_ms", 9.94, "9.9 ms"),  # latency under 10 ms keeps one decimal
        ("latency_p95_ms", 212.4, "212 ms"),  # latency from 10 ms keeps none
        ("energy_mj_mean", 4.26, "4.3 mJ"),  # energy like latency, in its own unit
        ("energy_mj_mean", 48.7, "49 mJ"),
        ("quality_mean", 0.8372, "0.837"),  # a score keeps three decimals
        ("attempts_per_hour", 12345.6, "12,346"),  # a throughput groups its thousands
        ("quality_mean", None, "n/a"),  # no value
        ("latency_p95_ms", float("nan"), "n/a"),  # no value, as pandas writes it
    ],
)
def test_format_value(name: str, value: float | None, shown: str) -> None:
    assert format_value(name, value) == shown


@pytest.mark.parametrize(
    ("p", "shown"),
    [
        (0.0004, "p<0.001"),  # too small to write out
        (0.001, "p=0.001"),  # the smallest written out
        (0.01234, "p=0.012"),  # three decimals
        (0.5, "p=0.500"),  # trailing zeros kept, so columns line up
    ],
)
def test_format_p(p: float, shown: str) -> None:
    assert format_p(p) == shown


@pytest.mark.parametrize(
    ("name", "words", "title"),
    [
        ("quality_mean", "mean quality", "quality"),  # narrow tables use the short name
        ("error_rate", "error rate", "errors"),
        ("latency_p95_ms", "p95 latency", "p95"),
        ("attempts", "attempts", "attempts"),  # no short name: the label
        (
            "fallback_rate_low_confidence",
            "fallback rate (low confidence)",
            "fallback rate (low confidence)",
        ),
    ],
)
def test_label_and_title(name: str, words: str, title: str) -> None:
    assert (label(name), metric(name).title) == (words, title)


def test_families_in_order_with_their_defaults() -> None:
    assert FAMILIES == {
        "error_rate": (0.10, 0.25, 0.002),
        "fallback_rate": (0.10, 0.25, 0.005),
        "cloud_escalation_rate": (0.10, 0.25, 0.005),
        "latency": (0.10, 0.25, 1.0),
        "confidence": (0.05, 0.15, 0.02),
        "quality": (0.05, 0.15, 0.02),
        "energy": (0.10, 0.25, 5.0),
        "thermal": (0.25, 0.50, 0.02),
    }


def test_metrics_of_a_family_share_its_thresholds_and_have_a_worse_direction() -> None:
    tested = [m for m in METRICS.values() if m.family is not None]
    assert {m.family for m in tested} == set(FAMILIES)
    assert [m.name for m in tested if m.thresholds != FAMILIES[m.family or ""]] == []
    assert [m.name for m in tested if m.worse == 0] == []


def test_the_analytics_settings_default_to_the_families() -> None:
    assert TESTED_METRICS == (
        "error_rate",
        "fallback_rate",
        "cloud_escalation_rate",
        "latency",
        "confidence",
        "quality",
        "energy",
        "thermal",
    )
    defaults = AnalyticsSettings().thresholds
    assert {
        family: (t.warn, t.degraded, t.min_absolute) for family, t in defaults.items()
    } == FAMILIES


@pytest.mark.parametrize("lookup", [metric, label, lambda name: format_value(name, 1.0)])
def test_an_unknown_metric_is_a_key_error_that_names_it(lookup) -> None:
    with pytest.raises(KeyError) as raised:
        lookup("nope")
    assert raised.value.args == ("unknown metric 'nope': register it in analytics.vocabulary",)


def test_every_computed_metric_is_registered() -> None:
    assert [name for name in metrics.METRICS if name not in METRICS] == []


def test_every_metric_a_reader_shows_is_registered() -> None:
    shown = {
        # the dashboard: tier cards, the segment grid and chart, canaries, fallback reasons
        *frames.KEY_FIGURES,
        *frames.GRID_METRICS,
        *frames.SERIES_METRICS,
        *frames.CANARY_METRICS,
        *(f"fallback_rate_{reason}" for reason in frames._REASONS),
        # the versions page and the local-against-cloud differences
        "device_share",
        "skew_share",
        "latency_p50_ms",
        # the terminal report
        *text.COLUMNS,
        # alert texts: built-in rules, and operator rules on any computed metric
        "privacy_violations",
        *metrics.METRICS,
    }
    assert sorted(name for name in shown if name not in METRICS) == []


def test_tiers_in_order_and_the_local_ones() -> None:
    assert (vocabulary.TIERS, vocabulary.LOCAL_TIERS) == (
        ("device", "edge", "cloud"),
        ("device", "edge"),
    )
