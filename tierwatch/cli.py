"""The ``tierwatch`` command line: thin commands over the composition root."""

from __future__ import annotations

import logging
import sys
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import click

from simulator.cli import simulate
from tierwatch.advice_cli import advise
from tierwatch.alerts_cli import COMMANDS as ALERT_COMMANDS
from tierwatch.cli_base import Group, adopt, load, open_engine
from tierwatch.token_cli import token

if TYPE_CHECKING:
    from tierwatch.settings import Settings

log = logging.getLogger("tierwatch")

_db_option = click.option(
    "--db",
    "db",
    metavar="URL",
    help="Database URL (default: $TIERWATCH_DATABASE_URL, else sqlite:///./tierwatch.db).",
)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tierwatch")
def main() -> None:
    """tierwatch: observability and drift monitoring for hybrid device / edge / cloud AI.

    --config FILE and --debug go before or after the command's name. A failure is
    one line on stderr, "tierwatch: error: ...", and a non-zero exit status;
    --debug shows its traceback.
    """


@main.command()
@click.option(
    "--host", metavar="H", help="Address to bind (default 0.0.0.0; --dev forces 127.0.0.1)."
)
@click.option("--port", metavar="P", type=int, help="Port (default 4318, the OTLP/HTTP port).")
@_db_option
@click.option(
    "--dev", is_flag=True, default=None, help="No authentication; bind to 127.0.0.1 only."
)
@click.option(
    "--workers", metavar="N", type=int, help="Server processes sharing the port (default 1)."
)
@click.pass_context
def serve(
    ctx: click.Context,
    host: str | None,
    port: int | None,
    db: str | None,
    dev: bool | None,
    workers: int | None,
) -> None:
    """Run the server: collector, read API, metrics; creates or upgrades the schema first.

    \b
    Example:
      tierwatch serve --dev --db sqlite:///./tierwatch.db
    """
    import uvicorn

    from collector.db import make_engine
    from tierwatch.app import create_app, prepare_workers
    from tierwatch.migrate import upgrade

    settings = load(
        ctx,
        **{
            "server.host": host,
            "server.port": port,
            "server.dev": dev,
            "server.workers": workers,
            "database.url": db,
        },
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
    # Before migrating: a server that cannot listen should leave the database alone.
    check_can_listen(bind, settings.server.port)
    listening = "tierwatch %s listening on http://%s:%d"
    if settings.server.workers == 1:
        app = create_app(settings)
        log.info(listening, _version(), bind, settings.server.port)
        uvicorn.run(
            app, host=bind, port=settings.server.port, log_level="warning", access_log=False
        )
        return
    # Several processes: migrate once here, then each worker builds its own app.
    engine = make_engine(settings.database.engine_url(), pool_size=1)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    prepare_workers(settings)
    log.info(listening, _version(), bind, settings.server.port)
    uvicorn.run(
        "tierwatch.app:app_from_environment",
        factory=True,
        workers=settings.server.workers,
        host=bind,
        port=settings.server.port,
        log_level="warning",
        access_log=False,
    )


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
    settings = load(ctx, **{"database.url": db})
    with open_engine(settings, create=True):
        pass
    click.echo(f"schema is at the newest migration on {_redacted(settings.database.url)}")


@main.command()
@click.option(
    "--window", metavar="DURATION", help="The period judged (default 1h; with --cost, 7d)."
)
@click.option(
    "--baseline",
    metavar="DURATION",
    help="Compare with this period before the window (default: the same hours of earlier "
    "days where the store holds them, else the 24h before).",
)
@click.option("--end", metavar="TIME", help="End of the window, ISO 8601 (default: now).")
@click.option(
    "--by",
    metavar="DIMS",
    help="Comma-separated dimensions (default fleet,tier,task): "
    "fleet, tier, task, model, model_version, device_model, region, app_version, node.",
)
@click.option("--fleet", metavar="FLEET", help="Only this fleet.")
@click.option(
    "--cost",
    is_flag=True,
    help="A cost note per fleet instead: cost and energy per task and tier, priced with "
    "[[costs]] (as /api/v1/costs).",
)
@click.option(
    "--fit-matrix",
    is_flag=True,
    help="The fit matrix instead: per task, the signals a placement rests on (p95 per tier, "
    "sensitive and offline shares, energy, cost per tier, model versions) and the placement "
    "they support.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "markdown"]),
    default="text",
    show_default=True,
    help="Layout of the cost note (--cost) or the fit matrix (--fit-matrix).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the JSON of /api/v1/health (or /api/v1/costs)."
)
@_db_option
@click.pass_context
def report(
    ctx: click.Context,
    window: str | None,
    baseline: str | None,
    end: str | None,
    by: str | None,
    fleet: str | None,
    cost: bool,
    fit_matrix: bool,
    output_format: str,
    as_json: bool,
    db: str | None,
) -> None:
    """Judge every segment: statuses and findings, window against baseline.

    Exits 0 even when segments are degraded; use --json for scripts. With
    --cost, what each fleet's tasks cost on each tier instead; with --fit-matrix,
    where each task's data says it should run.

    \b
    Examples:
      tierwatch report --window 1h --baseline 24h --by tier,device_model
      tierwatch report --cost --window 7d --fleet acme --format markdown
      tierwatch report --fit-matrix --window 7d --format markdown
    """
    import json
    from datetime import UTC, datetime

    from analytics.durations import parse_duration, parse_time
    from analytics.health import health_report
    from analytics.text import render_report
    from collector.schema import SEGMENT_DIMENSIONS
    from tierwatch.api.health import HealthResponse

    settings = load(ctx, **{"database.url": db})
    analytics = settings.analytics
    if cost and fit_matrix:
        raise click.UsageError("--cost and --fit-matrix are two reports; ask for one")
    if cost or fit_matrix:
        given = [name for name, value in (("--baseline", baseline), ("--by", by)) if value]
        if given:
            raise click.UsageError(
                f"{given[0]} does not apply to {'--cost' if cost else '--fit-matrix'}"
            )
    elif output_format != "text":
        raise click.UsageError("--format markdown applies to --cost and --fit-matrix only")
    try:
        window_td = parse_duration(
            window or ("7d" if cost or fit_matrix else analytics.default_window)
        )
        baseline_td = parse_duration(baseline) if baseline else None
        end_dt = parse_time(end) if end else datetime.now(UTC)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if cost:
        _cost_note(settings, window_td, end_dt, fleet, output_format, as_json)
        return
    if fit_matrix:
        _fit_matrix(settings, window_td, end_dt, fleet, output_format, as_json)
        return
    dims = [d.strip() for d in by.split(",") if d.strip()] if by else analytics.default_by
    unknown = [d for d in dims if d not in SEGMENT_DIMENSIONS]
    if unknown:
        raise click.BadParameter(
            f"unknown dimension {unknown[0]!r}; use {', '.join(SEGMENT_DIMENSIONS)}",
            param_hint="--by",
        )
    with open_engine(settings) as engine, engine.connect() as conn:
        result = health_report(
            conn,
            end=end_dt,
            window=window_td,
            baseline=baseline_td,
            by=dims,
            fleet=fleet,
            settings=analytics,
            privacy=settings.privacy,
        )
    if as_json:
        body = HealthResponse.of(result).model_dump(mode="json")
        click.echo(json.dumps(body, indent=2))
    else:
        click.echo(render_report(result), nl=False)


def _cost_note(
    settings: Settings,
    window: timedelta,
    end: datetime,
    fleet: str | None,
    output_format: str,
    as_json: bool,
) -> None:
    """``report --cost``: the cost note of each fleet, or its JSON."""
    import json

    from analytics.cost_note import render_costs
    from analytics.costs import cost_report
    from tierwatch.api.costs import CostsResponse

    with open_engine(settings) as engine, engine.connect() as conn:
        result = cost_report(conn, end=end, window=window, prices=settings.costs, fleet=fleet)
    if as_json:
        click.echo(json.dumps(CostsResponse.of(result).model_dump(mode="json"), indent=2))
    else:
        click.echo(render_costs(result, format=output_format), nl=False)


def _fit_matrix(
    settings: Settings,
    window: timedelta,
    end: datetime,
    fleet: str | None,
    output_format: str,
    as_json: bool,
) -> None:
    """``report --fit-matrix``: per task, the placement its measured signals support."""
    import json

    from pydantic import TypeAdapter

    from analytics.fit import FitMatrix, fit_matrix
    from analytics.fit_text import render_fit

    with open_engine(settings) as engine, engine.connect() as conn:
        result = fit_matrix(
            conn,
            start=end - window,
            end=end,
            prices=settings.costs,
            objectives=settings.objectives,
            fleet=fleet,
            privacy=settings.privacy,
        )
    if as_json:
        click.echo(json.dumps(TypeAdapter(FitMatrix).dump_python(result, mode="json"), indent=2))
    else:
        click.echo(render_fit(result, format=output_format), nl=False)


@main.command()
@click.option(
    "--end", metavar="TIME", help="End of every period and window, ISO 8601 (default: now)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON of /api/v1/objectives.")
@_db_option
@click.pass_context
def objectives(ctx: click.Context, end: str | None, as_json: bool, db: str | None) -> None:
    """Objectives from [[objectives]]: SLI, error budget left, burn rates and status.

    One row per objective kind (latency, availability, quality). Exits 0 whatever
    the statuses; use --json for scripts.

    \b
    Example:
      tierwatch objectives --end 2025-01-31T12:00:00Z
    """
    import json
    from datetime import UTC, datetime

    from analytics.durations import parse_time
    from analytics.objective_sums import objective_report
    from analytics.objective_text import render_objectives
    from tierwatch.api.objectives import ObjectivesResponse

    settings = load(ctx, **{"database.url": db})
    try:
        end_dt = parse_time(end) if end else datetime.now(UTC)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--end") from None
    end_dt = end_dt.replace(second=0, microsecond=0)
    with open_engine(settings) as engine, engine.connect() as conn:
        result = objective_report(conn, settings.objectives, end=end_dt)
    if as_json:
        body = ObjectivesResponse(end=end_dt, objectives=result).model_dump(mode="json")
        click.echo(json.dumps(body, indent=2))
    else:
        click.echo(render_objectives(result, end=end_dt), nl=False)


@db.command("compact")
@_db_option
@click.pass_context
def db_compact(ctx: click.Context, db: str | None) -> None:
    """Fold closed hours of minute rollups into hourly rollups, and of attempts into advice
    rollups (the server does both on its own).

    With [[objectives]] configured, request rollups too.

    \b
    Example:
      tierwatch db compact --db sqlite:///./tierwatch.db
    """
    import time

    from analytics.advice_rollups import fold_advice
    from analytics.compaction import compact
    from analytics.request_compaction import compact_requests

    settings = load(ctx, **{"database.url": db})
    now = int(time.time())
    with open_engine(settings) as engine:
        # Advice first: it reads the late-hour notes that compaction removes.
        advised = fold_advice(
            engine,
            now=now,
            grace_seconds=settings.analytics.compaction_grace_seconds,
            recheck_hours=settings.analytics.compaction_recheck_hours,
        )
        hours = compact(
            engine,
            now=now,
            grace_seconds=settings.analytics.compaction_grace_seconds,
            recheck_hours=settings.analytics.compaction_recheck_hours,
        )
        # Hourly request rollups serve objectives only.
        folded = (
            compact_requests(
                engine, now=now, grace_seconds=settings.analytics.compaction_grace_seconds
            )
            if settings.objectives
            else None
        )
    click.echo(f"compacted {hours} hour{'s' if hours != 1 else ''} of rollups")
    click.echo(f"folded {advised} hour{'s' if advised != 1 else ''} of attempts for advice")
    if folded is not None:
        click.echo(f"compacted {folded} hour{'s' if folded != 1 else ''} of request rollups")


@db.command("assemble")
@_db_option
@click.pass_context
def db_assemble(ctx: click.Context, db: str | None) -> None:
    """Assemble stored attempts into requests and request rollups (the server does it on its own).

    \b
    Example:
      tierwatch db assemble --db sqlite:///./tierwatch.db
    """
    import time

    from collector.assemble import assemble

    settings = load(ctx, **{"database.url": db})
    with open_engine(settings) as engine:
        merged = assemble(
            engine, now_ns=time.time_ns(), retention_days=settings.collector.retention_days
        )
    click.echo(f"assembled {merged} attempt{'s' if merged != 1 else ''} into requests")


@db.command("prune")
@_db_option
@click.pass_context
def db_prune(ctx: click.Context, db: str | None) -> None:
    """Delete what is past its retention, one line per table (the server does it on its own).

    
    Example:
      tierwatch db prune --db sqlite:///./tierwatch.db
    """
    import time

    from tierwatch.prune import prune

    settings = load(ctx, **{"database.url": db})
    with open_engine(settings) as engine:
        pruned = prune(
            engine,
            now_ms=time.time_ns() // 1_000_000,
            collector=settings.collector,
            analytics=settings.analytics,
            alerts=settings.alerts,
        )
    for entry in pruned:
        click.echo(entry.line())


@main.command()
@click.option("--port", metavar="P", type=int, default=4318, show_default=True, help="Server port.")
@click.option(
    "--db",
    "database",
    metavar="FILE",
    default="demo.db",
    show_default=True,
    help="SQLite file for the demo (replaced at start).",
)
@click.option("--history", default="2h", show_default=True, help="Fleet history to backfill.")
@click.option(
    "--rate",
    type=float,
    default=10.0,
    show_default=True,
    help="Requests per second, history and live.",
)
def demo(port: int, database: str, history: str, rate: float) -> None:
    """Run a local demo: server, simulated fleet, a degradation, and an alert hook that prints.

    \b
    Example:
      tierwatch demo            # then open http://127.0.0.1:4318/dashboard/
    """
    from pathlib import Path

    from tierwatch.demo import run_demo

    sys.exit(run_demo(port=port, database=Path(database), history=history, rate=rate))


def check_can_listen(host: str, port: int) -> None:
    """Raise :class:`PortInUse` unless ``host:port`` can be bound now (as uvicorn binds it)."""
    import socket

    from tierwatch.cli_errors import PortInUse

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortInUse(host, port, exc) from exc


def _version() -> str:
    import tierwatch

    return tierwatch.__version__


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# The simulator lives in its own package; its command is registered here.
main.add_command(adopt(simulate))
# So do the alerting commands (alerts, silence, hook, deliveries), the token commands and advise.
for _command in (*ALERT_COMMANDS, token, advise):
    main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
