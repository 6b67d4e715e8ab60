"""The database section: a password from a file is combined into the URL at engine creation."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from collector.config import DatabaseSettings
from tierwatch.cli import main


def test_the_password_file_fills_in_the_url(tmp_path: Path) -> None:
    secret = tmp_path / "postgres_password"
    secret.write_text("p@ss:w/rd%\n")
    database = DatabaseSettings(url="postgresql://tw@db:5432/tw", password_file=str(secret))
    url = make_url(database.engine_url())
    # characters that mean something in a URL survive, and the newline is dropped
    assert (url.username, url.password, url.host, url.database) == ("tw", "p@ss:w/rd%", "db", "tw")
    # the settings themselves never hold the password
    assert "p@ss" not in database.model_dump_json()


def test_without_a_password_file_the_url_is_used_as_it_is() -> None:
    url = "postgresql://tw:inline@db/tw"
    assert DatabaseSettings(url=url).engine_url() == url


def test_an_unreadable_password_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ValidationError):
        DatabaseSettings(url="postgresql://tw@db/tw", password_file=str(missing))
    result = CliRunner().invoke(
        main,
        ["db", "upgrade", "--db", "postgresql://tw@127.0.0.1:1/tw"],
        env={"TIERWATCH_DATABASE__PASSWORD_FILE": str(missing)},
    )
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "tierwatch: error: invalid setting database: Value error, database.password_file = "
        f"'{missing}' cannot be read (No such file or directory); make the file readable by "
        "the server's user, or set the value from the environment instead\n"
    )
