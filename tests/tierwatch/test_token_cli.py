"""``tierwatch token create|list|revoke``: expiry, listing without secrets, revocation."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from collector.auth import hash_token, lookup
from tierwatch.cli import main


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def create(db_url: str, *args: str) -> str:
    code, out, err = run("token", "create", *args, "--db", db_url)
    assert code == 0, err
    return out.splitlines()[-1]


def test_list_shows_every_token_and_never_a_secret(db_url: str, engine: Engine) -> None:
    ingest = create(db_url, "--fleet", "robots", "--role", "ingest")
    read = create(db_url, "--fleet", "*", "--role", "read", "--expires-in", "90d")
    assert lookup(engine, ingest) is not None  # now it has been used
    code, out, err = run("token", "list", "--db", db_url)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == [
        "ID",
        "FLEET",
        "ROLE",
        "STATE",
        "CREATED",
        "LAST",
        "USED",
        "EXPIRES",
    ]
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert lines[1].split()[:5] == ["1", "robots", "ingest", "active", today]
    assert lines[1].split()[-1] == "-"  # never expires
    assert lines[2].split()[:4] == ["2", "*", "read", "active"]
    assert lines[2].split()[-3] == "-"  # never used
    for token in (ingest, read):
        assert token not in out and hash_token(token) not in out
        assert token[3:12] not in out


def test_list_as_json(db_url: str) -> None:
    token = create(db_url, "--fleet", "robots", "--role", "admin", "--expires-at", "2999-01-01")
    code, out, _ = run("token", "list", "--json", "--db", db_url)
    assert code == 0
    assert json.loads(out)["tokens"] == [
        {
            "id": 1,
            "fleet": "robots",
            "role": "admin",
            "state": "active",
            "created_at": json.loads(out)["tokens"][0]["created_at"],
            "last_used_at": None,
            "expires_at": "2999-01-01T00:00:00Z",
            "revoked": False,
        }
    ]
    assert token not in out and hash_token(token) not in out


def test_create_says_when_it_expires(db_url: str) -> None:
    code, out, _ = run(
        "token", "create", "--fleet", "shop", "--role", "read", "--expires-at",
        "2999-01-01T12:00:00Z", "--db", db_url,
    )  # fmt: skip
    assert code == 0
    assert out.splitlines()[0] == (
        "created a read token for fleet shop (id 1, expires 2999-01-01 12:00:00 UTC); "
        "store it now: it is not shown again"
    )


def test_revoke_refuses_the_token_from_then_on(db_url: str, engine: Engine) -> None:
    token = create(db_url, "--fleet", "robots", "--role", "ingest")
    assert run("token", "revoke", "1", "--db", db_url) == (
        0,
        "revoked ingest token 1 of fleet robots\n",
        "",
    )
    assert lookup(engine, token) is None
    _, out, _ = run("token", "list", "--db", db_url)
    assert out.splitlines()[1].split()[:4] == ["1", "robots", "ingest", "revoked"]
    assert run("token", "revoke", "7", "--db", db_url) == (
        1,
        "",
        "tierwatch: error: no token 7; see `tierwatch token list`\n",
    )


def test_an_expired_token_is_listed_as_expired_and_refused(db_url: str, engine: Engine) -> None:
    token = create(db_url, "--fleet", "robots", "--role", "read", "--expires-in", "1s")
    time.sleep(1.1)
    assert lookup(engine, token) is None
    _, out, _ = run("token", "list", "--db", db_url)
    assert out.splitlines()[1].split()[3] == "expired"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # not a duration
        (["--expires-in", "soon"], "Invalid value for --expires-in: invalid duration 'soon'"),
        # a time in the past
        (
            ["--expires-at", "2001-01-01"],
            "Invalid value for --expires-at: 2001-01-01 is in the past",
        ),
        # both
        (
            ["--expires-in", "1d", "--expires-at", "2999-01-01"],
            "give --expires-in or --expires-at, not both",
        ),
    ],
)
def test_bad_expiry(tmp_path: Path, args: list[str], message: str) -> None:
    database = tmp_path / "t.db"
    code, _, err = run(
        "token", "create", "--fleet", "f", "--role", "read", *args, "--db", f"sqlite:///{database}"
    )
    assert code == 2 and message in err
    assert not database.exists()
