"""What every ``tierwatch`` command shares: global options, settings, the database, errors.

- ``--config FILE`` and ``--debug`` are accepted before or after any command name
  (``tierwatch --config x serve`` and ``tierwatch serve --config x``): the command
  classes below add them to every group and command.
- :func:`load` reads the settings the command's flags override.
- :func:`open_engine` opens the store: commands that only read never create a
  database and refuse one that is not migrated.
- An exception that escapes a command becomes one line on stderr
  (:mod:`tierwatch.cli_errors`), with the traceback only under ``--debug``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click
from sqlalchemy import Engine

from tierwatch.cli_errors import CliError, NoDatabase, NotMigrated, explain, sqlite_path
from tierwatch.settings import Settings, load_settings

_CONFIG = "tierwatch.config"
_DEBUG = "tierwatch.debug"
_DATABASE_URL = "tierwatch.database_url"


def _remember(key: str) -> Any:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        # ctx.meta is shared by every context of one invocation; None/False: not given here.
        if value:
            ctx.meta[key] = value

    return callback


def _global_options() -> list[click.Parameter]:
    return [
        click.Option(
            ["--config"],
            metavar="FILE",
            expose_value=False,
            callback=_remember(_CONFIG),
            help="TOML configuration file (default: $TIERWATCH_CONFIG).",
        ),
        click.Option(
            ["--debug"],
            is_flag=True,
            default=False,
            expose_value=False,
            callback=_remember(_DEBUG),
            help="Show the traceback when a command fails.",
        ),
    ]


class UsageLine(click.UsageError):
    """A mistake on the command line, shown as one line that says where help is."""

    def show(self, file: IO[Any] | None = None) -> None:
        where = self.ctx.command_path if self.ctx is not None else "tierwatch"
        message = " ".join(self.format_message().split()).rstrip(".")
        click.echo(f"tierwatch: error: {message}; see '{where} --help'", err=True)


def _one_line(exc: click.UsageError) -> click.UsageError:
    # A group called alone shows its help (Click's NoArgsIsHelpError): kept as it is.
    if isinstance(exc, UsageLine) or type(exc).__name__ == "NoArgsIsHelpError":
        return exc
    return UsageLine(exc.format_message(), exc.ctx)


class Command(click.Command):
    """A ``tierwatch`` command: takes ``--config`` and ``--debug`` wherever they are given.

    Its usage mistakes are one line (:class:`UsageLine`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(_global_options())

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise _one_line(exc) from exc


class Group(Command, click.Group):
    """A ``tierwatch`` command group; turns what escapes its commands into one line."""

    command_class = Command
    group_class = type  # subgroups are of this class too

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise _one_line(exc) from exc
        except (CliError, click.exceptions.Exit, click.Abort):
            raise
        except click.ClickException as exc:
            # A command's own refusal ("no silence 3"): the same one-line form.
            # (Click's own such errors all exit 1, as CliError does.)
            raise CliError(exc.format_message()) from exc
        except Exception as exc:
            if ctx.meta.get(_DEBUG):
                raise
            raise CliError(explain(exc, database_url=ctx.meta.get(_DATABASE_URL))) from exc


def adopt(command: click.Command) -> click.Command:
    """A copy of a command made elsewhere (``simulate``) that takes the global options too.

    A copy, so that the original (what its own package documents and tests) is unchanged.
    """
    adopted = copy.copy(command)
    adopted.params = [*command.params, *_global_options()]
    return adopted


def load(ctx: click.Context, **overrides: Any) -> Settings:
    """The settings: defaults, the ``--config`` file, the environment, then ``overrides``."""
    settings = load_settings(ctx.meta.get(_CONFIG), **overrides)
    ctx.meta[_DATABASE_URL] = settings.database.url
    return settings


@contextmanager
def open_engine(settings: Settings, *, create: bool = False) -> Iterator[Engine]:
    """An engine on the store; with ``create`` the schema is created or upgraded first.

    Without ``create`` the database must exist and be migrated: a SQLite file that
    is not there is not created (:class:`NoDatabase`), and a schema that is missing
    or older than this tierwatch's is refused (:class:`NotMigrated`).
    """
    from collector.db import make_engine
    from tierwatch.migrate import schema_revision, upgrade

    url = settings.database.engine_url()
    path = sqlite_path(url)
    if not create and path is not None and not Path(path).is_file():
        raise NoDatabase(path)
    engine = make_engine(
        settings.database.engine_url(),
        pool_size=1,
        busy_timeout_ms=settings.database.busy_timeout_ms,
    )
    try:
        if create:
            upgrade(engine)
        else:
            current, head = schema_revision(engine)
            if current != head:
                raise NotMigrated(current, head)
        yield engine
    finally:
        engine.dispose()
