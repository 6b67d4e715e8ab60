"""Token commands of the ``tierwatch`` CLI: create, list and revoke API tokens.

Thin: each command goes through :mod:`collector.auth`. Nothing here ever prints a
token's hash, and a token's text only once, when it is created.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import click

from collector.auth import ROLES
from tierwatch.cli_base import Group, load, open_engine

_db_option = click.option(
    "--db",
    "db",
    metavar="URL",
    help="Database URL (default: $TIERWATCH_DATABASE_URL, else sqlite:///./tierwatch.db).",
)


@click.group("token", cls=Group)
def token() -> None:
    """Manage API tokens: ingest tokens for senders, read and admin tokens for people."""


@token.command("create")
@click.option(
    "--fleet", required=True, help="The fleet the token acts for ('*' reads every fleet)."
)
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the token may do.")
@click.option(
    "--expires-in", metavar="DURATION", help="Stop accepting it after this long, e.g. 90d."
)
@click.option("--expires-at", metavar="TIME", help="Stop accepting it at this ISO 8601 time.")
@_db_option
@click.pass_context
def token_create(
    ctx: click.Context,
    fleet: str,
    role: str,
    expires_in: str | None,
    expires_at: str | None,
    db: str | None,
) -> None:
    """Create a token; it is printed once, alone on the last line.

    Without --expires-in or --expires-at the token is accepted until it is revoked.

    \b
    Example:
      tierwatch token create --fleet robots-eu --role ingest --expires-in 90d
    """
    from collector.auth import issue_token

    now = int(time.time())
    expiry = _expiry(expires_in, expires_at, now=now)
    settings = load(ctx, **{"database.url": db})
    with open_engine(settings, create=True) as engine:
        info, text = issue_token(engine, fleet=fleet, role=role, expires_at=expiry, now=now)
    until = f", expires {_when(info.expires_at)} UTC" if info.expires_at else ""
    click.echo(
        f"created {_article(role)} {role} token for fleet {fleet} (id {info.id}{until}); "
        "store it now: it is not shown again"
    )
    click.echo(text)


@token.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@_db_option
@click.pass_context
def token_list(ctx: click.Context, as_json: bool, db: str | None) -> None:
    """List tokens with their fleet, role, state and times; never their secrets.

    \b
    Example:
      tierwatch token list
    """
    from collector.auth import list_tokens

    settings = load(ctx, **{"database.url": db})
    with open_engine(settings) as engine:
        tokens = list_tokens(engine)
    now = int(time.time())
    if as_json:
        from tierwatch.api.tokens import TokenModel, TokensResponse

        body = TokensResponse(tokens=[TokenModel.of(t, now=now) for t in tokens])
        click.echo(json.dumps(body.model_dump(mode="json"), indent=2))
        return
    if not tokens:
        click.echo("no tokens")
        return
    headers = ["ID", "FLEET", "ROLE", "STATE", "CREATED", "LAST USED", "EXPIRES"]
    rows = [
        [
            str(t.id),
            t.fleet,
            t.role,
            t.state(now),
            _when(t.created_at),
            _when(t.last_used_at),
            _when(t.expires_at),
        ]
        for t in tokens
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    for line in [headers, *rows]:
        click.echo("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())


@token.command("revoke")
@click.argument("token_id", type=int, metavar="ID")
@_db_option
@click.pass_context
def token_revoke(ctx: click.Context, token_id: int, db: str | None) -> None:
    """Revoke token ID (from `tierwatch token list`): it is refused from now on.

    \b
    Example:
      tierwatch token revoke 3
    """
    from collector.auth import revoke_token

    settings = load(ctx, **{"database.url": db})
    with open_engine(settings) as engine:
        info = revoke_token(engine, token_id)
    if info is None:
        raise click.ClickException(f"no token {token_id}; see `tierwatch token list`")
    click.echo(f"revoked {info.role} token {info.id} of fleet {info.fleet}")


def _expiry(expires_in: str | None, expires_at: str | None, *, now: int) -> int | None:
    from analytics.durations import parse_duration, parse_time, to_unix

    if expires_in and expires_at:
        raise click.UsageError("give --expires-in or --expires-at, not both")
    try:
        if expires_in:
            return now + int(parse_duration(expires_in).total_seconds())
        if expires_at:
            at = to_unix(parse_time(expires_at))
            if at <= now:
                raise ValueError(f"{expires_at} is in the past")
            return at
    except ValueError as exc:
        hint = "--expires-in" if expires_in else "--expires-at"
        raise click.BadParameter(str(exc), param_hint=hint) from None
    return None


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _when(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")
