"""The read API's OpenAPI document."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_openapi_documents_the_read_endpoints(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/health",
        "/api/v1/findings",
        "/api/v1/tiers",
        "/api/v1/versions",
        "/api/v1/versions/series",
        "/api/v1/timeseries",
    ):
        schema = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["$ref"].startswith("#/components/schemas/"), path
