"""The report query: each read endpoint checks its parameters with the same messages."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

DURATION = "is not a duration; use a number and a unit, e.g. 90s, 15m, 1h, 7d"
STEPS = "use one of 60, 300, 900, 3600, 21600, 86400"


@pytest.mark.parametrize(
    ("url", "status", "detail"),
    [
        # a window without a unit, wherever the window is read
        ("/api/v1/tiers?window=60", 400, f"invalid window: '60' {DURATION}"),
        ("/api/v1/timeseries?window=60", 400, f"invalid window: '60' {DURATION}"),
        (
            "/api/v1/versions/series?model=m&fleet=f&window=60",
            400,
            f"invalid window: '60' {DURATION}",
        ),
        # a baseline without a unit
        ("/api/v1/versions?baseline=2", 400, f"invalid baseline: '2' {DURATION}"),
        # an end that is not a time
        (
            "/api/v1/findings?end=soon",
            400,
            "invalid end: 'soon' is not an ISO 8601 time, e.g. 2025-01-31T12:00:00Z",
        ),
        # a fleet with a NUL character
        (
            "/api/v1/tiers?fleet=a%00b",
            400,
            "invalid fleet: a fleet name cannot contain NUL characters",
        ),
        # the version series needs a fleet
        ("/api/v1/versions/series?model=m", 400, "invalid fleet: a fleet is required here"),
        # a bucket length that is not offered
        ("/api/v1/timeseries?step=7", 400, f"invalid step: 7; {STEPS}"),
        ("/api/v1/versions/series?model=m&fleet=f&step=7", 400, f"invalid step: 7; {STEPS}"),
        # an unknown severity
        ("/api/v1/findings?severity=bad", 400, "invalid severity: 'bad'; use ok, warn or degraded"),
    ],
)
def test_bad_parameters(client: TestClient, url: str, status: int, detail: str) -> None:
    response = client.get(url)
    assert (response.status_code, response.json()) == (status, {"detail": detail})


def test_parameters_an_endpoint_does_not_take_are_ignored(client: TestClient) -> None:
    # /tiers has no baseline, grouping or tier; as before, it does not read them
    response = client.get("/api/v1/tiers?baseline=x&by=colour&tier=device")
    assert response.status_code == 200, response.text
