"""Alerting commands of the ``tierwatch`` CLI: alerts, silences, hooks and deliveries.

Thin: each command reads or writes through :mod:`analytics.alerting` on the
database of ``--db`` (else ``TIERWATCH_DATABASE_URL``, else the default).
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import click
import pandas as pd
from sqlalchemy import Engine

from tierwatch.cli_base import Group, load, open_engine
from tierwatch.settings import Settings

_db_option = click.option(
    "--db",
    "db",
    metavar="URL",
    help="Database URL (default: $TIERWATCH_DATABASE_URL, else sqlite:///./tierwatch.db).",
)
_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def _settings(ctx: click.Context, db: str | None) -> Settings:
    return load(ctx, **{"database.url": db})


def _engine(settings: Settings, *, migrate: bool = False) -> AbstractContextManager[Engine]:
    return open_engine(settings, create=migrate)


def _split(values: Sequence[str]) -> list[str] | None:
    names = [v.strip() for value in values for v in value.split(",") if v.strip()]
    return names or None


def _when(value: Any) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return "-"
    if isinstance(value, pd.Timestamp | datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _print_table(headers: Sequence[str], rows: list[list[str]], empty: str) -> None:
    if not rows:
        click.echo(empty)
        return
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    for line in [list(headers), *rows]:
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=True)]
        click.echo("  ".join(cells).rstrip())


def _print_json(frame: pd.DataFrame) -> None:
    from tierwatch.api.alert_models import records

    click.echo(json.dumps(records(frame), indent=2))


@click.group("alerts", cls=Group)
def alerts() -> None:
    """Alerts raised by the rules."""


@alerts.command("list")
@click.option(
    "--state",
    "states",
    multiple=True,
    metavar="STATE",
    help="pending, firing, resolved or inactive (repeatable or comma-separated; default all).",
)
@click.option("--fleet", metavar="FLEET", help="Only this fleet.")
@click.option("--limit", type=int, default=200, show_default=True, help="Most alerts listed.")
@_json_option
@_db_option
@click.pass_context
def alerts_list(
    ctx: click.Context,
    states: tuple[str, ...],
    fleet: str | None,
    limit: int,
    as_json: bool,
    db: str | None,
) -> None:
    """List alerts, firing first.

    \b
    Example:
      tierwatch alerts list --state firing,pending
    """
    from analytics.alerting.queries import list_alerts

    settings = _settings(ctx, db)
    with _engine(settings) as engine, engine.connect() as conn:
        try:
            frame = list_alerts(conn, fleet=fleet, states=_split(states), limit=limit)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--state") from None
    if as_json:
        _print_json(frame)
        return
    rows = [
        [
            r["state"],
            r["severity"],
            r["rule"],
            r["fingerprint"],
            _when(r["started_at"] if r["state"] != "pending" else r["active_since"]),
            r["summary"],
        ]
        for r in frame.to_dict("records")
    ]
    _print_table(
        ["STATE", "SEVERITY", "RULE", "FINGERPRINT", "SINCE", "SUMMARY"], rows, "no alerts"
    )


@click.group("silence", cls=Group)
def silence() -> None:
    """Silences: mute notifications of matching alerts until an end time."""


@silence.command("create")
@click.option(
    "--matcher",
    "matchers",
    multiple=True,
    required=True,
    metavar="MATCHER",
    help="name=value, name!=value, name=~regex or name!~regex (repeatable; all must match).",
)
@click.option("--ends", required=True, metavar="WHEN", help="A duration from now (2h) or a time.")
@click.option("--starts", metavar="TIME", help="ISO 8601 start (default now).")
@click.option("--comment", required=True, help="Why the alerts are silenced.")
@click.option("--created-by", metavar="NAME", help="Who silences them (default: $USER).")
@click.option("--fleet", metavar="FLEET", help="Apply to this fleet only (default: every fleet).")
@_db_option
@click.pass_context
def silence_create(
    ctx: click.Context,
    matchers: tuple[str, ...],
    ends: str,
    starts: str | None,
    comment: str,
    created_by: str | None,
    fleet: str | None,
    db: str | None,
) -> None:
    """Create a silence; its id is printed alone on the last line.

    \b
    Example:
      tierwatch silence create --matcher tier=device --matcher alertname=~"segment_.*" \\
        --ends 2h --comment "rollout of 2.2.0"
    """
    from analytics.alerting.silences import BadSilence, create_silence, parse_matcher
    from analytics.alerting.times import to_ms
    from analytics.durations import parse_duration, parse_time
    from collector.db import WRITE

    now = datetime.now(UTC)
    try:
        parsed = [parse_matcher(m) for m in matchers]
    except BadSilence as exc:
        raise click.BadParameter(str(exc), param_hint="--matcher") from None
    try:
        start = parse_time(starts) if starts else now
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--starts") from None
    try:
        end = start + parse_duration(ends)
    except ValueError:
        try:
            end = parse_time(ends)
        except ValueError:
            raise click.BadParameter(
                f"{ends!r} is neither a duration (2h, 30m) nor an ISO 8601 time",
                param_hint="--ends",
            ) from None
    settings = _settings(ctx, db)
    with _engine(settings, migrate=True) as engine, engine.connect() as conn:
        conn = conn.execution_options(**{WRITE: True})
        with conn.begin():
            try:
                silence_id = create_silence(
                    conn,
                    matchers=parsed,
                    starts_at=to_ms(start),
                    ends_at=to_ms(end),
                    created_by=created_by or getpass.getuser(),
                    comment=comment,
                    fleet=fleet,
                    now=to_ms(now),
                )
            except BadSilence as exc:
                raise click.ClickException(str(exc)) from None
    shown = ", ".join(str(m) for m in parsed)
    click.echo(f"created silence of {shown} until {end.strftime('%Y-%m-%d %H:%M:%S')} UTC")
    click.echo(str(silence_id))


@silence.command("list")
@click.option("--active", is_flag=True, help="Only silences in force now.")
@click.option("--fleet", metavar="FLEET", help="Only silences that apply to this fleet.")
@_json_option
@_db_option
@click.pass_context
def silence_list(
    ctx: click.Context, active: bool, fleet: str | None, as_json: bool, db: str | None
) -> None:
    """List silences, newest first.

    \b
    Example:
      tierwatch silence list --active
    """
    from analytics.alerting.queries import list_silences

    settings = _settings(ctx, db)
    with _engine(settings) as engine, engine.connect() as conn:
        frame = list_silences(conn, fleet=fleet, active_only=active)
    if as_json:
        _print_json(frame)
        return
    rows = [
        [
            str(r["id"]),
            "active" if r["active"] else "ended",
            " ".join(f"{m['name']}{m['op']}{m['value']}" for m in r["matchers"]),
            _when(r["ends_at"]),
            r["created_by"],
            r["comment"],
        ]
        for r in frame.to_dict("records")
    ]
    _print_table(["ID", "STATE", "MATCHERS", "ENDS", "BY", "COMMENT"], rows, "no silences")


@silence.command("expire")
@click.argument("silence_id", type=int, metavar="ID")
@_db_option
@click.pass_context
def silence_expire(ctx: click.Context, silence_id: int, db: str | None) -> None:
    """End a silence now.

    \b
    Example:
      tierwatch silence expire 3
    """
    from analytics.alerting.silences import expire_silence
    from analytics.alerting.times import to_ms
    from collector.db import WRITE

    settings = _settings(ctx, db)
    with _engine(settings) as engine, engine.connect() as conn:
        conn = conn.execution_options(**{WRITE: True})
        with conn.begin():
            found = expire_silence(
                conn, silence_id=silence_id, fleet=None, now=to_ms(datetime.now(UTC))
            )
    if not found:
        raise click.ClickException(f"no silence {silence_id}")
    click.echo(f"silence {silence_id} has ended")


@click.group("hook", cls=Group)
def hook() -> None:
    """Alerting hooks from the configuration ([[alerts.hooks]])."""


@hook.command("list")
@click.pass_context
def hook_list(ctx: click.Context) -> None:
    """List the configured hooks.

    \b
    Example:
      tierwatch --config tierwatch.toml hook list
    """
    from urllib.parse import urlsplit

    settings = _settings(ctx, None)
    rows = [
        [
            h.name,
            h.kind,
            urlsplit(h.url).hostname or "",
            "yes" if h.signing_secret else "no",
            ",".join(h.header_names) or "-",
        ]
        for h in settings.alerts.hooks
    ]
    # Header values are credentials: only their names are shown.
    _print_table(["NAME", "KIND", "HOST", "SIGNED", "HEADERS"], rows, "no hooks configured")


@hook.command("test")
@click.argument("name")
@_db_option
@click.pass_context
def hook_test(ctx: click.Context, name: str, db: str | None) -> None:
    """Send a test notification to hook NAME now; exits 1 unless it was delivered.

    A retryable failure stays pending, and a running server retries it.

    \b
    Example:
      tierwatch --config tierwatch.toml hook test ops
    """
    from analytics.alerting.lease import holder_id
    from analytics.alerting.probe import UnknownHook, send_test_notification
    from analytics.alerting.service import now_ms

    settings = _settings(ctx, db)
    with _engine(settings, migrate=True) as engine:
        try:
            attempted = send_test_notification(
                engine,
                settings.alerts,
                public_url=settings.server.public_url,
                hook_name=name,
                fleet=None,
                holder=holder_id(),
                clock=now_ms,
            )
        except UnknownHook as exc:
            raise click.ClickException(str(exc)) from None
    answer = f"HTTP {attempted.status_code}" if attempted.status_code else "no answer"
    click.echo(
        f"test notification {attempted.webhook_id} to hook {name}: {attempted.status} ({answer})"
    )
    if attempted.status != "delivered":
        raise click.ClickException(attempted.error or attempted.status)


@click.group("deliveries", cls=Group)
def deliveries() -> None:
    """Notifications to hooks and their delivery status."""


@deliveries.command("list")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    metavar="STATUS",
    help="pending, delivered, failed, dead or superseded (repeatable or comma-separated; "
    "default all).",
)
@click.option("--fleet", metavar="FLEET", help="Only this fleet.")
@click.option("--limit", type=int, default=200, show_default=True, help="Most rows listed.")
@_json_option
@_db_option
@click.pass_context
def deliveries_list(
    ctx: click.Context,
    statuses: tuple[str, ...],
    fleet: str | None,
    limit: int,
    as_json: bool,
    db: str | None,
) -> None:
    """List notifications, newest first, with attempts and the last answer.

    \b
    Example:
      tierwatch deliveries list --status pending,dead
    """
    from analytics.alerting.queries import list_deliveries

    settings = _settings(ctx, db)
    with _engine(settings) as engine, engine.connect() as conn:
        try:
            frame = list_deliveries(conn, fleet=fleet, limit=limit, statuses=_split(statuses))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--status") from None
    if as_json:
        _print_json(frame)
        return
    rows = [
        [
            str(r["id"]),
            r["status"],
            r["hook"],
            r["event"],
            r["fingerprint"] or "-",
            str(r["attempts"]),
            "-" if pd.isna(r["last_status_code"]) else str(r["last_status_code"]),
            _when(r["created_at"]),
            r["last_error"] or "",
        ]
        for r in frame.to_dict("records")
    ]
    _print_table(
        ["ID", "STATUS", "HOOK", "EVENT", "FINGERPRINT", "ATTEMPTS", "CODE", "CREATED", "ERROR"],
        rows,
        "no deliveries",
    )


#: The groups ``tierwatch.cli`` registers.
COMMANDS = (alerts, silence, hook, deliveries)
