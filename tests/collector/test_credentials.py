"""Credentials from the environment or a file, and the database password that uses them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from collector.config import DatabaseSettings, redacted_url
from collector.credentials import MissingCredential, expand, one_of, read_file
from tierwatch.settings import SettingsError, load_settings

ENV = {"TOKEN": "abc", "EMPTY": ""}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # a reference inside text
        ("Bearer ${TOKEN}", "Bearer abc"),
        # several, and an empty one
        ("${TOKEN}:${EMPTY}:${TOKEN}", "abc::abc"),
        # $$ is a literal $
        ("price $$5 and $${TOKEN}", "price $5 and ${TOKEN}"),
        # a $ without braces stays
        ("$TOKEN", "$TOKEN"),
    ],
)
def test_expand(value: str, expected: str) -> None:
    assert expand(value, key="k", environ=ENV) == expected


def test_a_missing_variable_names_the_key_and_the_fix() -> None:
    with pytest.raises(MissingCredential) as info:
        expand("${NOPE}", key="secret", file_key="secret_file", environ=ENV)
    assert str(info.value) == (
        "secret names the environment variable NOPE, which is not set; set NOPE in the "
        "server's environment, or write the value in a file and use secret_file"
    )


def test_files(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("s3cret\n")
    assert read_file(str(path), key="bearer_token_file") == "s3cret"
    assert one_of("", str(path), key="bearer_token") == "s3cret"
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(MissingCredential) as info:
        read_file(str(tmp_path / "empty"), key="secret_file")
    assert str(info.value) == (
        f"secret_file = '{tmp_path / 'empty'}' is empty; write the value in the file"
    )
    with pytest.raises(ValueError) as both:
        one_of("x", str(path), key="secret")
    assert str(both.value) == "set secret or secret_file, not both"


def test_database_password_from_file_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = "p@ss:w/rd$"
    path = tmp_path / "pg_password"
    path.write_text(password + "\n")
    settings = DatabaseSettings(url="postgresql://tw@db:5432/tw", password_file=str(path))
    assert make_url(settings.engine_url()).password == password
    # the settings keep the file's name, not the password (what worker processes are handed)
    assert password not in settings.model_dump_json()
    # validated again (command-line flags, worker processes): the same URL
    again = DatabaseSettings.model_validate(settings.model_dump())
    assert again.engine_url() == settings.engine_url()
    # never in the repr
    assert password not in repr(settings)
    assert redacted_url(settings.engine_url()) == "postgresql://tw:***@db:5432/tw"
    monkeypatch.setenv("PGPW", password)
    from_env = DatabaseSettings(url="postgresql://tw@db/tw", password="${PGPW}")
    assert make_url(from_env.engine_url()).password == password
    monkeypatch.setenv("DB_HOST", "db.internal")
    assert (
        DatabaseSettings(url="postgresql://tw@${DB_HOST}/tw").engine_url()
        == "postgresql://tw@db.internal/tw"
    )


def test_database_url_variable_and_password_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "pg_password"
    path.write_text("from-file")
    config = tmp_path / "tw.toml"
    config.write_text(f'[database]\npassword_file = "{path}"\n')
    # TIERWATCH_DATABASE_URL still names the database; the file gives its password
    monkeypatch.setenv("TIERWATCH_DATABASE_URL", "postgresql://tw@db:5432/tw")
    settings = load_settings(config)
    assert settings.database.engine_url() == "postgresql://tw:from-file@db:5432/tw"
    config.write_text('[database]\npassword_file = "/nonexistent/pg_password"\n')
    with pytest.raises(SettingsError) as info:
        load_settings(config)
    assert str(info.value) == (
        "invalid setting database: Value error, database.password_file = "
        "'/nonexistent/pg_password' cannot be read (No such file or directory); make the file "
        "readable by the server's user, or set the value from the environment instead"
    )
