"""The SDK installed alone in a fresh virtual environment, configured only by OTEL_* variables.

The environment is built once per session with ``python -m venv`` and
``pip install ./sdk`` (pip's cache makes later runs quick; the first needs
PyPI). Programs run in it against a real tierwatch server that requires tokens.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi import FastAPI
from sqlalchemy import Engine

from collector.auth import create_token
from tests.conftest import LiveServer, make_settings
from tierwatch.app import create_app

pytestmark = [pytest.mark.slow, pytest.mark.sdk_standalone]

SDK = Path(__file__).resolve().parents[2] / "sdk"

#: Records ``good`` attempts and ``bad`` inference spans without hybrid.task, exports
#: them through a DiskBufferingSpanExporter configured by the environment alone, and
#: prints what became of the spans.
PROGRAM = """
import json, sys
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from tierwatch_sdk import DiskBufferingSpanExporter, attempt, fleet_resource

spool, good, bad = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
provider = TracerProvider(
    resource=fleet_resource(service_name="companion-app", fleet="phones", device_id="d-1")
)
exporter = DiskBufferingSpanExporter(spool)
provider.add_span_processor(BatchSpanProcessor(exporter))
tracer = provider.get_tracer("standalone")
for _ in range(good):
    with attempt("device", "photo-tag", model="tagger", version="1.0.0", tracer=tracer) as a:
        a.confidence = 0.9
for _ in range(bad):
    with tracer.start_as_current_span("hybrid.inference", attributes={"hybrid.tier": "device"}):
        pass
provider.shutdown()
print(json.dumps({
    "endpoint": exporter.endpoint,
    "delivered": exporter.delivered_spans,
    "rejected": exporter.rejected_spans,
    "pending": exporter.pending_spans,
    "dropped": exporter.dropped_spans,
}))
"""


def _clean_environ() -> dict[str, str]:
    """This process's environment without OTEL_* variables or Python path settings."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("OTEL_") and key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    }


@pytest.fixture(scope="session")
def sdk_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Python of a fresh virtual environment holding tierwatch-sdk and what it needs."""
    venv = tmp_path_factory.mktemp("sdk-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(SDK)],
        env=_clean_environ(),
        check=True,
        timeout=600,
    )
    return python


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: these tests are about the sender, not the database."""
    return f"sqlite:///{tmp_path / 'tierwatch.db'}"


@pytest.fixture
def server(db_url: str, engine: Engine) -> Iterator[LiveServer]:
    """A live server that requires tokens."""
    app: FastAPI = create_app(make_settings(db_url, dev=False), engine=engine, migrate=False)
    with LiveServer(app) as live:
        yield live


def run(
    python: Path, cwd: Path, *, good: int, bad: int = 0, **variables: str
) -> tuple[dict[str, Any], str]:
    """Run :data:`PROGRAM` with only ``variables`` set; its result and its log (stderr)."""
    done = subprocess.run(
        [str(python), "-c", PROGRAM, str(cwd / "spool"), str(good), str(bad)],
        cwd=cwd,
        env={"PATH": os.environ["PATH"], **variables},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


def stored_attempts(server: LiveServer, engine: Engine) -> int:
    reader = create_token(engine, fleet="*", role="read")
    summary = requests.get(
        f"{server.url}/api/v1/summary", headers={"Authorization": f"Bearer {reader}"}, timeout=5
    ).json()
    return int(summary["attempts"])


def test_the_sdk_installs_without_tierwatch(sdk_python: Path, tmp_path: Path) -> None:
    probe = (
        "import importlib.util, json, tierwatch_sdk\n"
        "names = ('pandas', 'fastapi', 'sqlalchemy', 'tierwatch', 'collector', 'analytics')\n"
        "print(json.dumps([tierwatch_sdk.__file__, [n for n in names if importlib.util.find_spec(n)]]))"
    )
    done = subprocess.run(
        [str(sdk_python), "-c", probe],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    location, importable = json.loads(done.stdout)
    assert location.startswith(str(sdk_python.parent.parent))  # the venv's copy, not sdk/src
    assert importable == []


def test_configured_by_the_standard_variables_alone(
    sdk_python: Path, server: LiveServer, engine: Engine, tmp_path: Path
) -> None:
    token = create_token(engine, fleet="phones", role="ingest")
    result, log = run(
        sdk_python,
        tmp_path,
        good=3,
        OTEL_EXPORTER_OTLP_ENDPOINT=server.url,  # the base URL: /v1/traces is appended
        OTEL_EXPORTER_OTLP_HEADERS=f"Authorization=Bearer%20{token}",
    )
    assert result == {
        "endpoint": f"{server.url}/v1/traces",
        "delivered": 3,
        "rejected": 0,
        "pending": 0,
        "dropped": 0,
    }
    assert log == ""
    assert stored_attempts(server, engine) == 3


def test_the_spool_waits_for_a_wrong_path_and_token_to_be_fixed(
    sdk_python: Path, server: LiveServer, engine: Engine, tmp_path: Path
) -> None:
    token = create_token(engine, fleet="phones", role="ingest")
    right = f"Authorization=Bearer%20{token}"

    # A base URL with a wrong path: 404, kept.
    result, log = run(
        sdk_python,
        tmp_path,
        good=3,
        OTEL_EXPORTER_OTLP_ENDPOINT=f"{server.url}/otlp",
        OTEL_EXPORTER_OTLP_HEADERS=right,
    )
    assert (result["delivered"], result["pending"], result["dropped"]) == (0, 3, 0)
    assert log == (
        f"{server.url}/otlp/v1/traces answered 404 Not Found: no OTLP traces receiver at this "
        "URL: check OTEL_EXPORTER_OTLP_ENDPOINT (a base URL; /v1/traces is appended) or "
        f"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as given); spans kept in {tmp_path}/spool: 3\n"
    )

    # The right URL with a wrong token: 401, kept, the new spans behind the old.
    result, log = run(
        sdk_python,
        tmp_path,
        good=2,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"{server.url}/v1/traces",
        OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer%20tw_wrong",
    )
    assert (result["delivered"], result["pending"], result["dropped"]) == (0, 5, 0)
    assert log.startswith(f"{server.url}/v1/traces answered 401 Unauthorized: the receiver ")
    assert stored_attempts(server, engine) == 0

    # Fixed: the same spool goes out, then the new span.
    result, log = run(
        sdk_python,
        tmp_path,
        good=1,
        OTEL_EXPORTER_OTLP_ENDPOINT=server.url,
        OTEL_EXPORTER_OTLP_HEADERS=right,
    )
    assert (result["delivered"], result["pending"], result["dropped"]) == (6, 0, 0)
    assert log == ""
    assert stored_attempts(server, engine) == 6
    assert list((tmp_path / "spool").iterdir()) == []


def test_partial_success_is_reported(
    sdk_python: Path, server: LiveServer, engine: Engine, tmp_path: Path
) -> None:
    token = create_token(engine, fleet="phones", role="ingest")
    result, log = run(
        sdk_python,
        tmp_path,
        good=2,
        bad=1,
        OTEL_EXPORTER_OTLP_ENDPOINT=server.url,
        OTEL_EXPORTER_OTLP_HEADERS=f"Authorization=Bearer%20{token}",
    )
    assert (result["delivered"], result["rejected"], result["pending"]) == (2, 1, 0)
    assert re.fullmatch(
        re.escape(
            f"{server.url}/v1/traces rejected 1 of 3 spans: rejected 1 of 3 spans: "
            "missing hybrid.task (1 span, first span_id "
        )
        + "[0-9a-f]{16}\\)\n",
        log,
    )
    assert stored_attempts(server, engine) == 2


def test_the_wheel_holds_the_sdk_alone_and_needs_only_opentelemetry(tmp_path: Path) -> None:
    # Built from a copy, so that the build leaves nothing in the checkout.
    source = tmp_path / "sdk"
    shutil.copytree(
        SDK, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path / "dist"),
         str(source)],
        env=_clean_environ(), check=True, timeout=600,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    assert wheel.name == "tierwatch_sdk-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        requires = [
            line.removeprefix("Requires-Dist: ")
            for line in archive.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist: ")
        ]
    packages = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert packages == {"tierwatch_sdk"}
    assert "tierwatch_sdk/py.typed" in names
    assert sorted(re.split(r"[<>=!~ ;]", r)[0] for r in requires) == [
        "opentelemetry-api",
        "opentelemetry-exporter-otlp-proto-http",
        "opentelemetry-sdk",
    ]
