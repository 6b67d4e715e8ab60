"""The deployment files: docker-compose.yml validated by docker-compose, the gateway's config."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def docker_compose() -> str:
    """The docker-compose command, installed from Debian's package when it is missing."""
    found = shutil.which("docker-compose")
    if found is None and shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["update", "-qq"], ["install", "-y", "-qq", "docker-compose"]):
            subprocess.run(["apt-get", *command], env=env, capture_output=True, check=False)
        found = shutil.which("docker-compose")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is required here and could not be installed with apt-get")
        pytest.skip("docker-compose is not installed and apt-get cannot install it here")
    return found


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The deployment files alone in a folder, away from any developer's .env."""
    for name in ("docker-compose.yml", "Dockerfile", ".dockerignore"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    return tmp_path


def compose_config(command: str, project: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [command, "config"],
        cwd=project,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_docker_compose_validates_the_file(docker_compose: str, project: Path) -> None:
    result = compose_config(
        docker_compose, project, POSTGRES_PASSWORD="s3cret", TIERWATCH_INGEST_TOKEN="tw_x"
    )
    assert result.returncode == 0, result.stderr
    services: dict[str, Any] = yaml.safe_load(result.stdout)["services"]
    assert sorted(services) == ["gateway", "migrate", "postgres", "tierwatch"]

    database = "postgresql://tierwatch:s3cret@postgres:5432/tierwatch"
    server = services["tierwatch"]
    assert server["build"]["context"] == str(project)
    assert server["command"] == ["serve"]
    assert server["deploy"]["replicas"] == 3
    assert server["environment"]["TIERWATCH_DATABASE_URL"] == database
    assert server["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}

    migrate = services["migrate"]
    assert (migrate["command"], migrate["image"]) == (["db", "upgrade"], server["image"])
    assert migrate["environment"]["TIERWATCH_DATABASE_URL"] == database
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "s3cret"

    gateway = services["gateway"]
    assert gateway["image"].startswith("otel/opentelemetry-collector-contrib:")
    assert gateway["environment"] == {"TIERWATCH_INGEST_TOKEN": "tw_x"}
    assert gateway["volumes"] == [
        f"{project}/deploy/otel-gateway.yaml:/etc/otelcol/gateway.yaml:ro"
    ]
    assert gateway["command"] == ["--config=/etc/otelcol/gateway.yaml"]
    assert {p["target"] for p in gateway["ports"]} == {4317, 4318}


def test_docker_compose_asks_for_the_database_password(docker_compose: str, project: Path) -> None:
    result = compose_config(docker_compose, project)
    assert result.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in result.stderr


def test_the_gateway_batches_and_forwards_to_tierwatch() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "otel-gateway.yaml").read_text())
    (pipeline,) = config["service"]["pipelines"].values()
    # every component a pipeline names is configured
    for kind in ("receivers", "processors", "exporters"):
        assert set(pipeline[kind]) <= set(config[kind]), kind
    assert set(config["service"]["extensions"]) <= set(config["extensions"])
    assert pipeline["processors"] == ["memory_limiter", "batch"]
    (name,) = pipeline["exporters"]
    assert name.split("/")[0] == "otlphttp"
    exporter = config["exporters"][name]
    # the compose service name, on the OTLP/HTTP port tierwatch serves by default
    assert exporter["endpoint"] == "http://tierwatch:4318"
    assert exporter["headers"] == {"Authorization": "Bearer ${env:TIERWATCH_INGEST_TOKEN}"}
    assert exporter["compression"] == "gzip"
    assert exporter["retry_on_failure"]["enabled"] is True
    assert exporter["sending_queue"]["enabled"] is True
    protocols = config["receivers"][pipeline["receivers"][0]]["protocols"]
    assert (protocols["http"]["endpoint"], protocols["grpc"]["endpoint"]) == (
        "0.0.0.0:4318",
        "0.0.0.0:4317",
    )


def test_the_image_runs_the_server_on_the_otlp_port() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text().splitlines()
    assert "EXPOSE 4318" in dockerfile
    assert 'ENTRYPOINT ["tierwatch"]' in dockerfile
    assert 'CMD ["serve"]' in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert {".venv", ".git", "tests"} <= set(ignored)
