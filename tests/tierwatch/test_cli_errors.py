"""Mistakes on the command line: one line on stderr naming the problem and the fix, exit 1.

Most cases go through click's runner (the same command classes that turn errors
into lines); ``serve`` runs as a real process, since it configures logging and binds
a port.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import free_port
from tierwatch.cli import main

CLOSED = free_port()  # nothing listens there once free_port closed its socket
UNREACHABLE = f"postgresql://postgres@127.0.0.1:{CLOSED}/test"
REFUSED = (
    f"tierwatch: error: cannot connect to PostgreSQL at 127.0.0.1:{CLOSED} (connection refused); "
    "check database.url or TIERWATCH_DATABASE_URL"
)


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``tierwatch ARGS``."""
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "line"),
    [
        # a database URL that is not one
        (
            ["report", "--db", "foo"],
            "tierwatch: error: invalid database URL 'foo'; use sqlite:///PATH or "
            "postgresql://USER@HOST:PORT/DATABASE; check database.url or TIERWATCH_DATABASE_URL",
        ),
        # a password in a bad URL is not repeated
        (
            ["report", "--db", "postgresql+nodriver://me:secret@host/db"],
            "tierwatch: error: invalid database URL 'postgresql+nodriver://***@host/db'; use "
            "sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE; "
            "check database.url or TIERWATCH_DATABASE_URL",
        ),
        # PostgreSQL not listening, for each kind of command
        (["report", "--db", UNREACHABLE], REFUSED),
        (["alerts", "list", "--db", UNREACHABLE], REFUSED),
        (["token", "create", "--fleet", "f", "--role", "read", "--db", UNREACHABLE], REFUSED),
        (["token", "list", "--db", UNREACHABLE], REFUSED),
        (["db", "upgrade", "--db", UNREACHABLE], REFUSED),
    ],
)
def test_database_mistakes(args: list[str], line: str) -> None:
    assert run(*args) == (1, "", line + "\n")


def test_unreachable_database_from_the_environment() -> None:
    assert run("silence", "list", env={"TIERWATCH_DATABASE_URL": UNREACHABLE}) == (
        1,
        "",
        REFUSED + "\n",
    )


@pytest.mark.parametrize(
    "command",
    [
        ["report"],
        ["alerts", "list"],
        ["token", "list"],
        ["token", "revoke", "1"],
        ["silence", "list"],
        ["deliveries", "list"],
        ["db", "compact"],
        ["db", "assemble"],
    ],
)
def test_reading_commands_never_create_a_database(tmp_path: Path, command: list[str]) -> None:
    typo = tmp_path / "x" / "typo.db"
    code, out, err = run(*command, "--db", f"sqlite:///{typo}")
    assert (code, out) == (1, "")
    assert (
        err
        == f"tierwatch: error: no database at {typo}; run `tierwatch db upgrade` or check --db\n"
    )
    assert not typo.exists() and not typo.parent.exists()


def test_a_relative_path_is_named_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run("report", "--db", "sqlite:///./typo.db") == (
        1,
        "",
        "tierwatch: error: no database at ./typo.db; run `tierwatch db upgrade` or check --db\n",
    )
    assert list(tmp_path.iterdir()) == []


def test_a_database_without_the_schema(db_url: str) -> None:
    if db_url.startswith("sqlite"):
        path = db_url.removeprefix("sqlite:///")
        Path(path).touch()  # an empty SQLite file: a database without tables
        where = f"at {path}"
    else:
        where = "at 127.0.0.1:5432/test"
    assert run("report", "--db", db_url) == (
        1,
        "",
        f"tierwatch: error: the database {where} has no tierwatch schema; "
        "run `tierwatch db upgrade`\n",
    )


@pytest.mark.parametrize("before", [True, False])
def test_config_goes_before_or_after_the_command(tmp_path: Path, before: bool) -> None:
    database = tmp_path / "from-config.db"
    config = tmp_path / "tierwatch.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{database}"\n')
    given = ["--config", str(config)]
    command = ["db", "upgrade"]
    assert run(*(given + command if before else command + given))[0] == 0
    assert database.exists()
    listing = ["token", "list"]
    assert run(*(given + listing if before else listing + given)) == (0, "no tokens\n", "")


@pytest.mark.parametrize("before", [True, False])
def test_bad_configuration_files(tmp_path: Path, before: bool) -> None:
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00\xff\xfe")
    cases = [
        # a directory
        (tmp_path, f"configuration file {tmp_path} is a directory; name a TOML file"),
        # a binary file
        (binary, f"configuration file {binary} is not text (not UTF-8); name a TOML file"),
        # no file
        (tmp_path / "nope.toml", f"configuration file {tmp_path / 'nope.toml'} does not exist"),
    ]
    for path, message in cases:
        args = ["--config", str(path)]
        assert run(*([*args, "report"] if before else ["report", *args])) == (
            1,
            "",
            f"tierwatch: error: {message}\n",
        )


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tierwatch", "report", "--db", "foo", "--debug"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert result.stderr.splitlines()[-1] == (
        "sqlalchemy.exc.ArgumentError: Could not parse SQLAlchemy URL from given URL string"
    )


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tierwatch", "serve", "--host", "127.0.0.1", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_on_a_port_in_use_leaves_the_database_alone(tmp_path: Path) -> None:
    database = tmp_path / "serve.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _serve("--port", str(port), "--db", f"sqlite:///{database}")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"tierwatch: error: port {port} on 127.0.0.1 is in use; stop what listens there "
        "or choose another with --port\n"
    )
    assert not database.exists()  # not created, so not migrated


def test_serve_without_its_database() -> None:
    result = _serve("--port", str(free_port()), "--db", UNREACHABLE)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", REFUSED + "\n")


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["report", "--window", "bogus"],
            "tierwatch: error: Invalid value: invalid duration 'bogus': A duration must be a "
            "number with a unit: s, m, h, d or w (e.g. 90s, 15m, 1h30m, 7d); "
            "see 'tierwatch report --help'",
        ),
        (
            ["report", "--nope"],
            "tierwatch: error: No such option '--nope'; see 'tierwatch report --help'",
        ),
        (["bogus"], "tierwatch: error: No such command 'bogus'; see 'tierwatch --help'"),
    ],
)
def test_usage_mistakes_are_one_line_too(args: list[str], line: str) -> None:
    result = CliRunner().invoke(main, args, prog_name="tierwatch")
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", line + "\n")
