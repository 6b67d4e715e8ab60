"""``tierwatch advise``: the routing what-if of one task in the terminal."""

from __future__ import annotations

import click

from tierwatch.cli_base import Command, load, open_engine
from tierwatch.cli_errors import CliError


@click.command(cls=Command)
@click.option("--task", required=True, metavar="TASK", help="The task whose threshold is replayed.")
@click.option("--fleet", metavar="FLEET", help="Only this fleet.")
@click.option(
    "--tier", metavar="TIER", help="device or edge (default: the one with most attempts)."
)
@click.option("--window", metavar="DURATION", default="7d", show_default=True, help="Period read.")
@click.option("--end", metavar="TIME", help="End of the window, ISO 8601 (default: now).")
@click.option("--quality-floor", type=click.FloatRange(0, 1), help="Lowest mean quality allowed.")
@click.option("--latency-ms", type=click.FloatRange(min=0, min_open=True),
              help="Latency objective: requests should finish within this (ms).")  # fmt: skip
@click.option("--latency-target", type=click.FloatRange(0, 1, min_open=True), default=0.95,
              show_default=True, help="Latency objective: the share that must.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the JSON of /api/v1/advice.")
@click.option("--db", "db", metavar="URL", help="Database URL (default: $TIERWATCH_DATABASE_URL).")
@click.pass_context
def advise(
    ctx: click.Context,
    task: str,
    fleet: str | None,
    tier: str | None,
    window: str,
    end: str | None,
    quality_floor: float | None,
    latency_ms: float | None,
    latency_target: float,
    as_json: bool,
    db: str | None,
) -> None:
    """Replay a local tier's confidence threshold over recorded attempts, and recommend one.

    For every threshold 0.00..1.00: local share, cloud escalation rate, quality of the
    answers served, p95 latency, cost per 1,000 requests and energy per request, and how
    much of it rests on labelled answers. Reads the hours the server has folded. A goal
    not given comes from the task's [[objectives]].

    \b
    Example:
      tierwatch advise --task photo-tag --quality-floor 0.9 --window 7d
    """
    import json
    from datetime import UTC, datetime

    from pydantic import TypeAdapter

    from analytics.advice import Advice, NoAdviceData, merged_goals
    from analytics.advice_report import UnknownTier, advice_report
    from analytics.advice_text import render_advice
    from analytics.durations import parse_duration, parse_time
    from tierwatch.api.advice import goals_from

    settings = load(ctx, **{"database.url": db})
    try:
        span = parse_duration(window)
        end_dt = parse_time(end) if end else datetime.now(UTC)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    with open_engine(settings) as engine, engine.connect() as conn:
        try:
            result = advice_report(
                conn,
                task=task,
                start=end_dt - span,
                end=end_dt,
                goals=merged_goals(
                    goals_from(quality_floor, latency_ms, latency_target),
                    settings.objectives,
                    task=task,
                    fleet=fleet,
                ),
                prices=settings.costs,
                fleet=fleet,
                tier=tier,
            )
        except UnknownTier:
            raise click.BadParameter(f"{tier!r} is not a local tier; use device or edge",
                                     param_hint="--tier") from None  # fmt: skip
        except NoAdviceData:
            raise CliError(
                f"no local attempts with a confidence for task {task!r} in the window's "
                "folded hours; check --task and --window, or run `tierwatch db compact`"
            ) from None
    if as_json:
        body = TypeAdapter(Advice).dump_python(result, mode="json")
        click.echo(json.dumps(body, indent=2))
    else:
        click.echo(render_advice(result), nl=False)
