"""``tierwatch simulate``: a thin command over :class:`simulator.run.Simulation`."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, TextIO

import click

from simulator import catalog
from simulator.scenario import (
    NS,
    ScenarioError,
    builtin_scenarios,
    load_scenario,
    parse_duration,
    parse_moment,
    utc,
)

if TYPE_CHECKING:
    from simulator.run import Progress


def _duration(_ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param=param) from None


class ProgressLine:
    """One line on stderr that follows the run: rewritten in place on a terminal."""

    def __init__(
        self, stream: TextIO | None = None, *, quiet: bool = False, every_s: float = 5.0
    ) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = self.stream.isatty()
        self.every_s = every_s
        self._last = 0.0
        self._width = 0

    def __call__(self, progress: Progress) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        done = progress.fraction == 1.0
        if not self.tty and not done and now - self._last < self.every_s:
            return
        self._last = now
        line = describe(progress)
        if self.tty:
            self.stream.write("\r" + line.ljust(self._width))
            self._width = len(line)
            if done:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def end(self) -> None:
        if self.tty and self._width and not self.quiet:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0


def describe(progress: Progress) -> str:
    """The progress line: where the run is and what became of the spans."""
    stats = progress.senders
    rate = progress.attempts / progress.elapsed_s if progress.elapsed_s > 0 else 0.0
    if progress.phase == "backfill":
        where = f"backfill {utc(progress.at_ns)} {progress.fraction or 0.0:4.0%}"
    else:
        where = f"live +{_clock((progress.at_ns - progress.start_ns) // NS)}"
    return (
        f"{where} | {progress.requests:,} requests, {progress.attempts:,} attempts "
        f"({rate:,.0f}/s) | delivered {stats.delivered:,}, on disk {stats.on_disk:,}"
        + (f", lost {stats.lost:,}" if stats.lost else "")
    )


def _clock(seconds: int) -> str:
    hours, rest = divmod(max(seconds, 0), 3600)
    return f"{hours:d}:{rest // 60:02d}:{rest % 60:02d}"


def _check_endpoint(url: str, token: str | None) -> None:
    """Send an empty export so that a wrong address or token fails now, with a clear message."""
    import requests
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    headers = {"Content-Type": "application/x-protobuf"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        answer = requests.post(
            url, data=ExportTraceServiceRequest().SerializeToString(), headers=headers, timeout=10
        )
    except requests.RequestException as exc:
        raise click.ClickException(f"cannot reach {url}: {exc}") from None
    if answer.status_code in (401, 403):
        raise click.ClickException(
            f"{url} refused the token ({answer.status_code}); give --token with an ingest token "
            "(tierwatch token create --fleet FLEET --role ingest), or run the server with --dev"
        )
    if not 200 <= answer.status_code < 300 and answer.status_code not in (429, 503):
        raise click.ClickException(f"{url} answered {answer.status_code} to an empty export")


@click.command(context_settings={"max_content_width": 100})
@click.option(
    "--endpoint",
    metavar="URL",
    default="http://127.0.0.1:4318",
    show_default=True,
    envvar="TIERWATCH_ENDPOINT",
    help="OTLP/HTTP receiver: tierwatch or a Collector gateway (/v1/traces is added).",
)
@click.option(
    "--token",
    metavar="T",
    envvar="TIERWATCH_TOKEN",
    help="Ingest token, sent as Authorization: Bearer (not needed with serve --dev).",
)
@click.option(
    "--scenario",
    metavar="NAME|FILE",
    help="Scenario YAML file, or a built-in one: " + ", ".join(builtin_scenarios()) + ".",
)
@click.option(
    "--backfill",
    "history",
    metavar="DURATION",
    callback=_duration,
    help="First send this much history (e.g. 24h), as fast as the receiver takes it.",
)
@click.option("--live", is_flag=True, help="Then stream in real time until Ctrl-C or --duration.")
@click.option(
    "--duration", metavar="DURATION", callback=_duration, help="Stop streaming live after this."
)
@click.option(
    "--devices",
    type=click.IntRange(1, 5000),
    metavar="N",
    help="Simulated devices, each its own SDK pipeline (default: the scenario's, else 150).",
)
@click.option("--seed", type=int, metavar="S", help="Random seed (default: the scenario's).")
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    metavar="R",
    help="Requests per second across the fleet, in history (default: the scenario's, else 2).",
)
@click.option(
    "--live-rate",
    type=click.FloatRange(min=0, min_open=True),
    metavar="R",
    help="Requests per second while live (default: --rate).",
)
@click.option(
    "--end",
    metavar="TIME",
    help="When the history ends, ISO 8601 (default: now): repeatable backfills; not with --live.",
)
@click.option(
    "--spool-dir",
    metavar="DIR",
    default=".tierwatch-sim",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where offline devices keep their spans until they reconnect.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress line.")
def simulate(
    endpoint: str,
    token: str | None,
    scenario: str | None,
    history: int | None,
    live: bool,
    duration: int | None,
    devices: int | None,
    seed: int | None,
    rate: float | None,
    live_rate: float | None,
    end: str | None,
    spool_dir: Path,
    quiet: bool,
) -> None:
    """Simulate a hybrid-AI fleet sending OpenTelemetry traces: backfill history, then stream live.

    Devices, edge nodes and cloud nodes each run the OpenTelemetry SDK with an
    OTLP/HTTP exporter; a router on each device picks tiers and falls back, model
    versions roll out, devices go offline and send late, and the scenario
    schedules degradations. Times in a scenario are relative to the end of the
    history (= the start of the live stream).

    \b
    Example:
      tierwatch simulate --scenario demo --backfill 24h --live
      tierwatch simulate --endpoint http://gateway:4318 --token "$TOKEN" \\
          --scenario edge-outage --backfill 6h --seed 3 --end 2025-03-01T12:00:00Z
    """
    # The SDK pipelines load only when a simulation runs, not for every tierwatch command.
    from simulator.run import Simulation
    from simulator.senders import traces_url

    if not history and not live:
        raise click.UsageError("nothing to do: give --backfill DURATION, --live, or both")
    if duration is not None and not live:
        raise click.UsageError("--duration limits the live stream; give --live too")
    anchor = None
    if end is not None:
        if live:
            raise click.UsageError("--end fixes the history in the past; it cannot go with --live")
        try:
            moment = parse_moment(end)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--end") from None
        anchor = moment.resolve(time.time_ns() // NS * NS)
    try:
        plan = load_scenario(scenario)
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from None
    url = traces_url(endpoint)
    _check_endpoint(url, token)

    simulation = Simulation(
        plan,
        endpoint=url,
        token=token,
        spool_dir=spool_dir,
        devices=devices,
        seed=seed,
        rate=rate,
        live_rate=live_rate,
        anchor_ns=anchor,
        history_ns=history or 0,
    )
    click.echo(
        f"simulating fleet {plan.fleet!r} (scenario {plan.name}, seed {simulation.seed}): "
        f"{len(simulation.devices)} devices, {len(catalog.NODES)} edge and cloud nodes -> {url}",
        err=True,
    )
    line = ProgressLine(quiet=quiet)
    stop = threading.Event()
    # One busy thread plans requests while many exporter threads mostly wait on the
    # network: a shorter GIL switch interval hands the exporters the GIL back sooner.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(0.001)

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        if history:
            done = simulation.backfill(stop=stop, on_progress=line)
            line.end()
            click.echo(
                f"backfilled {utc(simulation.start_ns)} .. {utc(simulation.anchor_ns)}: "
                f"{done.requests:,} requests, {done.attempts:,} attempts in {done.elapsed_s:.1f} s "
                f"({done.attempts / max(done.elapsed_s, 1e-9):,.0f} attempts/s)"
            )
        if live and not stop.is_set():
            before = simulation.attempts
            with contextlib.suppress(KeyboardInterrupt):
                simulation.stream(duration_ns=duration, stop=stop, on_progress=line)
            line.end()
            click.echo(f"streamed live: {simulation.attempts - before:,} attempts")
    finally:
        signal.signal(signal.SIGTERM, previous)
        sys.setswitchinterval(switch_interval)
        stats = simulation.close()
        waiting = simulation.senders.offline_devices_with_spans()
        click.echo(
            f"delivered {stats.delivered:,} spans"
            + (
                f"; {stats.on_disk:,} wait on the disks of {waiting} offline "
                f"device{'s' if waiting != 1 else ''} in {spool_dir} "
                "(sent by a later run with the same seed and --spool-dir)"
                if stats.on_disk
                else ""
            )
            + (f"; {stats.lost:,} lost" if stats.lost else "")
        )
