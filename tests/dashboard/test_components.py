"""Layout pieces: grid columns of metrics are headed and written as the vocabulary says."""

from __future__ import annotations

import pytest

from dashboard import components


@pytest.mark.parametrize(
    ("name", "header", "formatter"),
    [
        ("error_rate", "error rate", components.PERCENT),  # a rate in %
        ("latency_p95_ms", "p95 latency", components.MILLISECONDS),  # latency in ms
        ("energy_mj_mean", "mean energy", components.MILLIJOULES),  # energy in mJ
        ("quality_mean", "mean quality", components.DECIMAL),  # a score to 3 decimals
        ("privacy_violations", "privacy violations", components.INTEGER),  # a count
        ("attempts_per_hour", "attempts / hour", components.INTEGER),  # a throughput
    ],
)
def test_metric_column(name: str, header: str, formatter: str) -> None:
    column = components.metric_column(name, minWidth=120)
    assert column == {
        "field": name,
        "headerName": header,
        "valueFormatter": {"function": formatter},
        "filter": "agNumberColumnFilter",
        "type": "numericColumn",
        "minWidth": 120,
    }


def test_metric_column_of_an_unknown_metric_names_it() -> None:
    with pytest.raises(KeyError, match="unknown metric 'nope'"):
        components.metric_column("nope")
