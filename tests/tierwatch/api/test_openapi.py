"""The read API's OpenAPI document: its parameters, and analytics' own types as its schemas."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient

from analytics.attribution import Contribution
from analytics.costs import CostBucket, CostLine, FleetCosts
from analytics.findings import Finding, SegmentHealth
from analytics.objectives import ObjectiveStatus
from analytics.requests import RequestGroup, RequestReport
from analytics.tiers import Difference, ShadowAgreement, TierComparison
from analytics.versions import CanaryComparison, StuckDevice, VersionDrift, VersionShare
from collector.schema import SEGMENT_DIMENSIONS

#: The query parameters of each read endpoint; only those marked True are required.
PARAMETERS = {
    "/api/v1/health": dict.fromkeys(("window", "baseline", "end", "by", "fleet"), False),
    "/api/v1/findings": dict.fromkeys(
        ("window", "baseline", "end", "by", "fleet", "severity"), False
    ),
    "/api/v1/tiers": dict.fromkeys(("window", "end", "fleet", "task"), False),
    "/api/v1/requests": dict.fromkeys(("window", "end", "by", "fleet"), False),
    "/api/v1/costs": dict.fromkeys(("window", "end", "fleet", "bucket"), False),
    "/api/v1/objectives": dict.fromkeys(("end", "fleet"), False),
    "/api/v1/versions": dict.fromkeys(("window", "baseline", "end", "fleet", "model"), False),
    "/api/v1/versions/series": {
        **dict.fromkeys(("window", "end", "fleet", "step"), False),
        "model": True,
    },
    "/api/v1/timeseries": dict.fromkeys(
        ("window", "end", "step", "shadow", *SEGMENT_DIMENSIONS), False
    ),
}


def test_openapi_documents_the_read_endpoints(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/health",
        "/api/v1/findings",
        "/api/v1/tiers",
        "/api/v1/requests",
        "/api/v1/costs",
        "/api/v1/objectives",
        "/api/v1/versions",
        "/api/v1/versions/series",
        "/api/v1/timeseries",
    ):
        schema = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["$ref"].startswith("#/components/schemas/"), path


@pytest.mark.parametrize("path", list(PARAMETERS))
def test_each_endpoint_takes_its_own_parameters(client: TestClient, path: str) -> None:
    operation = client.get("/openapi.json").json()["paths"][path]["get"]
    query = {p["name"]: p["required"] for p in operation["parameters"] if p["in"] == "query"}
    assert query == PARAMETERS[path]


@pytest.mark.parametrize(
    "result",
    [
        Contribution,
        Finding,
        SegmentHealth,
        Difference,
        ShadowAgreement,
        TierComparison,
        VersionShare,
        StuckDevice,
        CanaryComparison,
        VersionDrift,
        RequestGroup,
        RequestReport,
        CostLine,
        CostBucket,
        FleetCosts,
        ObjectiveStatus,
    ],
)
def test_schemas_are_the_analytics_dataclasses(client: TestClient, result: type) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"][result.__name__]
    names = [f.name for f in dataclasses.fields(result)]
    # a field added to the dataclass is in the API, in its place, and always present
    assert list(schema["properties"]) == names
    assert schema["required"] == names


def test_times_are_documented_as_date_times(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for name, field in (
        ("TimeRange", "start"),
        ("TimeRange", "end"),
        ("StuckDevice", "last_seen"),
        ("CostBucket", "start"),
    ):
        assert schemas[name]["properties"][field]["format"] == "date-time", (name, field)
