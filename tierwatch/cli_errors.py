"""What the CLI tells a person when a command fails: one line naming the problem and the fix.

Commands do not catch errors themselves. The command classes of
:mod:`tierwatch.cli_base` pass every exception that escapes a command to
:func:`explain`, the one table from exception types to messages, and print its
answer as ``tierwatch: error: <message>``; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import errno
import re
import sqlite3
from typing import IO, Any

import click

from collector.credentials import MissingCredential
from tierwatch.settings import SettingsError

#: Where the database URL comes from, named in every database message.
DATABASE_HINT = "check database.url or TIERWATCH_DATABASE_URL"


class CliError(click.ClickException):
    """A failure the user can fix, printed as one line ``tierwatch: error: <message>``."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"tierwatch: error: {self.format_message()}", err=True)


class NoDatabase(Exception):
    """A command that only reads was pointed at a SQLite file that does not exist."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class NotMigrated(Exception):
    """The database has no tierwatch schema, or an older one than this tierwatch expects."""

    def __init__(self, current: str | None, head: str) -> None:
        super().__init__(current, head)
        self.current = current
        self.head = head


class PortInUse(Exception):
    """``serve`` cannot bind its address."""

    def __init__(self, host: str, port: int, error: OSError) -> None:
        super().__init__(host, port, error)
        self.host = host
        self.port = port
        self.error = error


def explain(exc: BaseException, *, database_url: str | None) -> str:
    """One line for ``exc``: what went wrong and what to do about it.

    ``database_url`` is the URL the command used, if it got that far; it names the
    database in messages (never with its password).
    """
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    if isinstance(exc, SettingsError | MissingCredential):
        return "; ".join(str(exc).splitlines())
    if isinstance(exc, NoDatabase):
        return f"no database at {exc.path}; run `tierwatch db upgrade` or check --db"
    if isinstance(exc, NotMigrated):
        where = _describe_url(database_url)
        if exc.current is None:
            return f"the database {where} has no tierwatch schema; run `tierwatch db upgrade`"
        return (
            f"the database {where} is at schema {exc.current}, this tierwatch needs "
            f"{exc.head}; run `tierwatch db upgrade`"
        )
    if isinstance(exc, PortInUse):
        if exc.error.errno == errno.EADDRINUSE:
            return (
                f"port {exc.port} on {exc.host} is in use; stop what listens there "
                "or choose another with --port"
            )
        if exc.error.errno == errno.EACCES:
            return (
                f"no permission to listen on port {exc.port} on {exc.host}; "
                "use a port above 1023 or choose another with --port"
            )
        return f"cannot listen on {exc.host}:{exc.port} ({_reason(exc.error)}); check --host"
    if isinstance(exc, ArgumentError | NoSuchModuleError) or (
        isinstance(exc, ModuleNotFoundError) and database_url and "://" in database_url
    ):
        return (
            f"invalid database URL {_shown(database_url)}; use sqlite:///PATH or "
            f"postgresql://USER@HOST:PORT/DATABASE; {DATABASE_HINT}"
        )
    if isinstance(exc, DBAPIError):
        return _database_error(exc, database_url)
    if isinstance(exc, PermissionError):
        name = exc.filename or "a file"
        return f"permission denied on {name}; check who owns it and its mode"
    if isinstance(exc, OSError):
        return f"{_reason(exc)}{f' ({exc.filename})' if exc.filename else ''}"
    return (
        f"unexpected {type(exc).__name__}: {_first_line(str(exc))}; "
        "run again with --debug for the traceback"
    )


def _database_error(exc: Any, database_url: str | None) -> str:
    orig = getattr(exc, "orig", None)
    text = _first_line(str(orig if orig is not None else exc))
    url = _parse(database_url)
    if url is not None and url.get_backend_name() == "sqlite":
        path = url.database or ":memory:"
        if isinstance(orig, sqlite3.OperationalError) and "unable to open" in text:
            return (
                f"cannot open the SQLite database at {path} ({text}); "
                "check that its folder exists and that you may write there"
            )
        if "readonly" in text or "read-only" in text:
            return (
                f"cannot write the SQLite database at {path} ({text}); "
                "check who owns the file and its folder"
            )
        if "no such table" in text:
            return f"the database at {path} has no tierwatch schema; run `tierwatch db upgrade`"
        if "database is locked" in text:
            return f"the SQLite database at {path} is busy ({text}); try again"
        return f"the SQLite database at {path} failed: {text}"
    if url is not None and url.get_backend_name() == "postgresql":
        where = f"{url.host or 'localhost'}:{url.port or 5432}"
        if "does not exist" in text and "relation" in text:
            return f"the database at {where} has no tierwatch schema; run `tierwatch db upgrade`"
        if "connection" in text or "resolve host" in text or "timeout" in text.lower():
            return f"cannot connect to PostgreSQL at {where} ({_pg_reason(text)}); {DATABASE_HINT}"
        return f"PostgreSQL at {where} failed: {text}"
    return f"the database failed: {text}; {DATABASE_HINT}"


def _pg_reason(text: str) -> str:
    """The cause in a libpq message, e.g. ``connection refused``."""
    reason = text.rsplit("failed: ", 1)[-1]
    reason = re.sub(r"^FATAL:\s+", "", reason)
    reason = re.sub(r"^failed to resolve host ", "unknown host ", reason)
    reason = re.sub(r": \[Errno -?\d+\] .*$", "", reason)
    return reason[:1].lower() + reason[1:]


def _reason(error: OSError) -> str:
    text = error.strerror or str(error)
    return text[:1].lower() + text[1:]


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no message"


def _parse(database_url: str | None) -> Any:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if not database_url:
        return None
    try:
        return make_url(database_url)
    except ArgumentError:
        return None


def _describe_url(database_url: str | None) -> str:
    url = _parse(database_url)
    if url is None:
        return "(unknown)"
    if url.get_backend_name() == "sqlite":
        return f"at {url.database or ':memory:'}"
    return f"at {url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"


def _shown(database_url: str | None) -> str:
    """The URL as given, with anything that may be a password cut out."""
    if not database_url:
        return "''"
    shown = re.sub(r"://[^@/]*@", "://***@", database_url)
    return repr(shown)


def sqlite_path(database_url: str) -> str | None:
    """The file of a SQLite URL as written, or ``None`` for another database or in memory."""
    url = _parse(database_url)
    if url is None or url.get_backend_name() != "sqlite":
        return None
    if url.database in (None, "", ":memory:") or str(url.database).startswith("file:"):
        return None
    return str(url.database)
