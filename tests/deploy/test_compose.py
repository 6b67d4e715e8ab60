"""The deployment files: docker-compose.yml validated by docker-compose, the gateway's config."""

from __future__ import annotations

import os
import re
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
    result = compose_config(docker_compose, project)
    assert result.returncode == 0, result.stderr
    services: dict[str, Any] = yaml.safe_load(result.stdout)["services"]
    assert sorted(services) == ["gateway", "migrate", "postgres", "tierwatch"]

    # the password is in a secret file, never in a URL or an environment value
    database = "postgresql://tierwatch@postgres:5432/tierwatch"
    password_file = "/run/secrets/postgres_password"
    server = services["tierwatch"]
    assert server["build"]["context"] == str(project)
    assert server["command"] == ["serve"]
    assert server["deploy"]["replicas"] == 3
    assert server["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}

    migrate = services["migrate"]
    assert (migrate["command"], migrate["image"]) == (["db", "upgrade"], server["image"])
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for service in (server, migrate):
        assert service["environment"]["TIERWATCH_DATABASE_URL"] == database
        assert service["environment"]["TIERWATCH_DATABASE__PASSWORD_FILE"] == password_file
        assert service["secrets"] == [{"source": "postgres_password"}]
    postgres = services["postgres"]
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == password_file
    assert "POSTGRES_PASSWORD" not in postgres["environment"]
    assert postgres["secrets"] == [{"source": "postgres_password"}]
    secrets = yaml.safe_load(result.stdout)["secrets"]
    assert secrets == {"postgres_password": {"file": f"{project}/secrets/postgres_password"}}
    assert not any("PASSWORD=" in str(s.get("environment")) for s in services.values())

    gateway = services["gateway"]
    assert gateway["image"].startswith("otel/opentelemetry-collector-contrib:")
    # the gateway holds no token: it forwards each sender's own
    assert "environment" not in gateway
    assert gateway["volumes"] == [
        f"{project}/deploy/otel-gateway.yaml:/etc/otelcol/gateway.yaml:ro"
    ]
    assert gateway["command"] == ["--config=/etc/otelcol/gateway.yaml"]
    assert {p["target"] for p in gateway["ports"]} == {4317, 4318}


def _host_ip(port: str | dict[str, Any]) -> str:
    """The address a published port listens on (docker-compose writes short or long form)."""
    if isinstance(port, dict):
        return str(port.get("host_ip", "0.0.0.0"))
    parts = port.split(":")
    return parts[0] if len(parts) == 3 else "0.0.0.0"


#: Services that authenticate every request themselves and may listen on every interface.
AUTHENTICATED = {"gateway"}


def test_only_authenticated_services_are_published_beyond_loopback(
    docker_compose: str, project: Path
) -> None:
    result = compose_config(docker_compose, project)
    services: dict[str, Any] = yaml.safe_load(result.stdout)["services"]
    for name, service in services.items():
        for port in service.get("ports", []):
            open_to_all = _host_ip(port) in ("0.0.0.0", "::", "")
            assert not open_to_all or name in AUTHENTICATED, (name, port)
    assert [_host_ip(p) for p in services["tierwatch"]["ports"]] == ["127.0.0.1"]
    assert "ports" not in services["postgres"] and "ports" not in services["migrate"]


def test_variables_have_no_empty_fallbacks() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    references = re.findall(r"\$\{([^}]*)\}", text)
    # a variable is required (${VAR:?message}); nothing silently falls back to empty
    for reference in references:
        assert re.fullmatch(r"[A-Z_][A-Z0-9_]*:\?.+", reference), reference
    assert ":-" not in text


def test_images_are_pinned(docker_compose: str, project: Path) -> None:
    result = compose_config(docker_compose, project)
    services: dict[str, Any] = yaml.safe_load(result.stdout)["services"]
    built = {"migrate", "tierwatch"}  # from the Dockerfile below
    images = {name: s["image"] for name, s in services.items() if name not in built}
    assert images == {
        "postgres": "postgres:16.4-alpine",
        "gateway": "otel/opentelemetry-collector-contrib:0.111.0",
    }
    base = [
        line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("FROM")
    ]
    assert base == ["FROM python:3.11.10-slim-bookworm"]
    for image in [*images.values(), base[0].split()[1]]:
        # an exact version (major.minor.patch or major.minor), or a digest
        tag = image.rsplit(":", 1)[1]
        assert "@sha256:" in image or re.match(r"\d+\.\d+(\.\d+)?(-[a-z0-9.-]+)?$", tag), image


def test_the_image_installs_locked_hashed_dependencies() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --require-hashes --no-deps -r requirements.lock" in dockerfile
    assert "pip install --no-deps --no-build-isolation --no-index ." in dockerfile
    lock = (ROOT / "requirements.lock").read_text()
    pins = re.findall(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+)", lock, flags=re.MULTILINE)
    names = {name.lower().replace("_", "-") for name, _ in pins}
    # every direct dependency and the build backend are pinned, each with hashes
    assert {"fastapi", "sqlalchemy", "psycopg", "uvicorn", "setuptools"} <= names
    entries = re.split(r"\n(?=[A-Za-z0-9])", lock.split("\n\n", 1)[-1])
    for entry in entries:
        if "==" in entry:
            assert "--hash=sha256:" in entry, entry.splitlines()[0]
    # secrets never go into the image
    assert "secrets" in (ROOT / ".dockerignore").read_text().splitlines()


def test_the_gateway_forwards_each_senders_authorization() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "otel-gateway.yaml").read_text())
    (pipeline,) = config["service"]["pipelines"].values()
    (name,) = pipeline["exporters"]
    exporter = config["exporters"][name]
    # no token of the gateway's own
    assert "headers" not in exporter
    assert exporter["auth"] == {"authenticator": "headers_setter"}
    assert "headers_setter" in config["service"]["extensions"]
    assert config["extensions"]["headers_setter"] == {
        "headers": [{"action": "upsert", "key": "Authorization", "from_context": "authorization"}]
    }
    # the receiver keeps each request's headers with its spans
    protocols = config["receivers"][pipeline["receivers"][0]]["protocols"]
    assert protocols["http"]["include_metadata"] is True
    assert protocols["grpc"]["include_metadata"] is True
    # and batches never mix senders' tokens (so never fleets)
    assert config["processors"]["batch"]["metadata_keys"] == ["authorization"]


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
    assert {".venv", ".git", "tests", "secrets"} <= set(ignored)
    # the service user owns its working directory, where the default SQLite file goes
    assert "USER tierwatch" in dockerfile
    assert "WORKDIR /var/lib/tierwatch" in dockerfile
    assert "--home-dir /var/lib/tierwatch --create-home tierwatch" in "\n".join(dockerfile)
