"""The tierwatch command line, run as a user would run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import inspect

from collector.auth import lookup
from collector.db import make_engine
from tierwatch.cli import main


def test_db_upgrade_creates_schema(db_url: str) -> None:
    result = CliRunner().invoke(main, ["db", "upgrade", "--db", db_url])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("schema is at the newest migration on ")
    engine = make_engine(db_url)
    assert "attempts" in inspect(engine).get_table_names()
    engine.dispose()


def test_token_create_prints_token_alone_on_last_line(db_url: str) -> None:
    result = CliRunner().invoke(
        main, ["token", "create", "--fleet", "robots", "--role", "ingest", "--db", db_url]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.rstrip("\n").split("\n")
    assert lines[0] == (
        "created an ingest token for fleet robots (id 1); store it now: it is not shown again"
    )
    token = lines[-1]
    assert token.startswith("tw_") and " " not in token
    engine = make_engine(db_url)
    principal = lookup(engine, token)
    engine.dispose()
    assert principal is not None and (principal.fleet, principal.role) == ("robots", "ingest")


def test_token_create_refuses_unknown_role(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "token",
            "create",
            "--fleet",
            "f",
            "--role",
            "god",
            "--db",
            f"sqlite:///{tmp_path / 'x.db'}",
        ],
        prog_name="tierwatch",
    )
    assert result.exit_code == 2
    assert result.output == (
        "tierwatch: error: Invalid value for '--role': 'god' is not one of 'ingest', 'read', "
        "'admin'; see 'tierwatch token create --help'\n"
    )
    assert not (tmp_path / "x.db").exists()


def test_database_from_environment(tmp_path: Path, monkeypatch: object) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    result = CliRunner().invoke(main, ["db", "upgrade"], env={"TIERWATCH_DATABASE_URL": url})
    assert result.exit_code == 0
    assert (tmp_path / "env.db").exists()


def test_bad_configuration_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "tierwatch.toml"
    config.write_text("[collector]\nmax_body_byte = 5\n")
    result = CliRunner().invoke(
        main, ["--config", str(config), "db", "upgrade", "--db", "sqlite://"]
    )
    assert result.exit_code == 1
    assert (
        "invalid setting collector.max_body_byte: Extra inputs are not permitted" in result.output
    )


def test_console_script_help_has_examples() -> None:
    for command in (["serve"], ["db", "upgrade"], ["token", "create"]):
        out = subprocess.run(
            [sys.executable, "-m", "tierwatch", *command, "--help"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "Example:" in out, command
