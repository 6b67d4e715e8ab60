"""The ``tierwatch`` command line: thin commands over the composition root."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from tierwatch.settings import Settings, SettingsError, load_settings

log = logging.getLogger("tierwatch")

_db_option = click.option(
    "--db",
    "db",
    metavar="URL",
    help="Database URL (default: $TIERWATCH_DATABASE_URL, else sqlite:///./tierwatch.db).",
)


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    try:
        return load_settings(ctx.obj.get("config"), **overrides)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config", metavar="FILE", help="TOML configuration file (default: $TIERWATCH_CONFIG)."
)
@click.version_option(package_name="tierwatch")
@click.pass_context
def main(ctx: click.Context, config: str | None) -> None:
    """tierwatch: observability and drift monitoring for hybrid device / edge / cloud AI."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config


@main.command()
@click.option(
    "--host", metavar="H", help="Address to bind (default 0.0.0.0; --dev forces 127.0.0.1)."
)
@click.option("--port", metavar="P", type=int, help="Port (default 4318, the OTLP/HTTP port).")
@_db_option
@click.option(
    "--dev", is_flag=True, default=None, help="No authentication; bind to 127.0.0.1 only."
)
@click.pass_context
def serve(
    ctx: click.Context, host: str | None, port: int | None, db: str | None, dev: bool | None
) -> None:
    """Run the server: collector, read API, metrics; creates or upgrades the schema first.

    \b
    Example:
      tierwatch serve --dev --db sqlite:///./tierwatch.db
    """
    import uvicorn

    from tierwatch.app import create_app

    settings = _settings(
        ctx, **{"server.host": host, "server.port": port, "server.dev": dev, "database.url": db}
    )
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    bind = settings.server.host
    if settings.server.dev:
        if bind != "127.0.0.1":
            log.warning("--dev: authentication is OFF; binding to 127.0.0.1 instead of %s", bind)
        else:
            log.warning("--dev: authentication is OFF; listening on 127.0.0.1 only")
        bind = "127.0.0.1"
    app = create_app(settings)
    log.info("tierwatch %s listening on http://%s:%d", _version(), bind, settings.server.port)
    uvicorn.run(app, host=bind, port=settings.server.port, log_level="warning", access_log=False)


@main.group()
def db() -> None:
    """Manage the store's schema."""


@db.command("upgrade")
@_db_option
@click.pass_context
def db_upgrade(ctx: click.Context, db: str | None) -> None:
    """Bring the schema to the newest migration.

    \b
    Example:
      tierwatch db upgrade --db postgresql://tierwatch@db/tierwatch
    """
    from collector.db import make_engine
    from tierwatch.migrate import upgrade

    settings = _settings(ctx, **{"database.url": db})
    engine = make_engine(settings.database.url, pool_size=1)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    click.echo(f"schema is at the newest migration on {_redacted(settings.database.url)}")


@main.group()
def token() -> None:
    """Manage API tokens."""


@token.command("create")
@click.option(
    "--fleet", required=True, help="The fleet the token acts for ('*' reads every fleet)."
)
@click.option(
    "--role",
    required=True,
    type=click.Choice(["ingest", "read", "admin"]),
    help="What the token may do.",
)
@_db_option
@click.pass_context
def token_create(ctx: click.Context, fleet: str, role: str, db: str | None) -> None:
    """Create a token; it is printed once, alone on the last line.

    \b
    Example:
      tierwatch token create --fleet robots-eu --role ingest
    """
    from collector.auth import create_token
    from collector.db import make_engine
    from tierwatch.migrate import upgrade

    settings = _settings(ctx, **{"database.url": db})
    engine = make_engine(settings.database.url, pool_size=1)
    try:
        upgrade(engine)
        text = create_token(engine, fleet=fleet, role=role)
    finally:
        engine.dispose()
    click.echo(f"created a {role} token for fleet {fleet} (store it now: it is not shown again)")
    click.echo(text)


def _version() -> str:
    import tierwatch

    return tierwatch.__version__


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
