"""Shared fixtures: a fresh database on SQLite and PostgreSQL, a client, a live server.

Database tests are parametrised over both backends. PostgreSQL comes from
``TIERWATCH_TEST_POSTGRES_URL`` (default: the local server's ``test`` database);
each test gets a schema of its own, dropped afterwards. When PostgreSQL cannot be
reached the tests skip, except under ``CI`` or ``TIERWATCH_REQUIRE_POSTGRES=1``,
where they fail.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from collector.db import make_engine
from tierwatch.app import create_app
from tierwatch.migrate import upgrade
from tierwatch.settings import Settings, load_settings

POSTGRES_URL = os.environ.get(
    "TIERWATCH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgresql")


def _postgres_required() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("TIERWATCH_REQUIRE_POSTGRES") == "1"


def _postgres_admin() -> Engine:
    url = POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    return create_engine(url, isolation_level="AUTOCOMMIT", pool_size=1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """Where PostgreSQL is required, a skipped PostgreSQL case is a failure."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    # An expected failure (xfail) is reported as skipped too; it is not a missing database.
    expected_failure = hasattr(report, "wasxfail")
    if (
        report.skipped
        and not expected_failure
        and _postgres_required()
        and "postgresql" in item.nodeid
    ):
        report.outcome = "failed"
        report.longrepr = f"PostgreSQL case skipped where PostgreSQL is required: {report.longrepr}"


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine | None]:
    engine = _postgres_admin()
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # pragma: no cover - depends on the machine
        engine.dispose()
        if _postgres_required():
            pytest.fail(f"PostgreSQL is required here but unreachable at {POSTGRES_URL}: {exc}")
        yield None
        return
    yield engine
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tierwatch.db'}"
        return
    admin = request.getfixturevalue("postgres_admin")
    if admin is None:
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_URL}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    # The application name tags this test's connections, so teardown can end any that
    # a background thread still holds before it drops the schema.
    yield f"{POSTGRES_URL}?options={quote(f'-csearch_path={schema}')}&application_name={schema}"
    with admin.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"
            ),
            {"name": schema},
        )
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a database upgraded to the newest migration."""
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def make_settings(db_url: str, *, dev: bool = True, **overrides: object) -> Settings:
    """Settings for tests: the given database, dev mode and in-process ingest unless told otherwise."""
    return load_settings(
        None,
        **{
            "database.url": db_url,
            "server.dev": dev,
            "collector.ingest_workers": 0,
            **overrides,
        },
    )


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url)


@pytest.fixture
def app(settings: Settings, engine: Engine) -> FastAPI:
    return create_app(settings, engine=engine, migrate=False)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_serving(port: int, proc: subprocess.Popen[Any], timeout: float = 90) -> None:
    """Wait until a ``tierwatch serve`` process answers ``/healthz``; kill it if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


class LiveServer:
    """A real uvicorn server on a free loopback port, in a background thread."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("live server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server
