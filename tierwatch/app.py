"""The composition root: build the FastAPI app from settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import Engine, text

import tierwatch
from analytics.advice_rollups import fold_advice
from analytics.alerting import lease
from analytics.alerting.service import AlertService
from analytics.compaction import compact
from analytics.request_compaction import compact_requests
from collector.assemble import Assembler
from collector.auth import DEV_PRINCIPAL, Principal, bearer, lookup
from collector.db import make_engine
from collector.errors import StoreBusy, Unauthorized
from collector.receive import Admission, BodyReads, Ingest, Receiver, build_router, in_thread
from collector.telemetry import CollectorMetrics
from collector.workers import WorkerPool
from tierwatch.api import (
    advice,
    alerts,
    costs,
    deliveries,
    health,
    hooks,
    objectives,
    requests,
    silences,
    summary,
    tiers,
    timeseries,
    tokens,
    versions,
)
from tierwatch.ingest import build_ingestor, ingestor_from_json
from tierwatch.migrate import upgrade
from tierwatch.observe import forget_process, instrument
from tierwatch.prune import PRUNER, prune_if_holder
from tierwatch.settings import Settings

log = logging.getLogger(__name__)


def make_authenticate(engine: Engine, *, dev: bool):
    """The function that turns an Authorization header into a :class:`Principal`."""

    def authenticate(authorization: str | None) -> Principal:
        if dev:
            return DEV_PRINCIPAL
        token = bearer(authorization)
        if token is None:
            raise Unauthorized()
        try:
            principal = lookup(engine, token)
        except Exception as exc:  # the database is down: nothing can be checked
            raise StoreBusy("cannot check the token: the database is unavailable") from exc
        if principal is None:
            raise Unauthorized("unknown, revoked or expired token")
        # A token for every fleet ("*") reads them all; for ingest it lets the payload decide.
        if principal.fleet == "*":
            return Principal(fleet=None, role=principal.role)
        return principal

    return authenticate


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    migrate: bool = True,
    process_root: int | None = None,
) -> FastAPI:
    """The tierwatch server: collector, read API, dashboard, ``/metrics`` and ``/healthz``.

    ``process_root`` is the process whose tree ``/metrics`` reports memory and CPU
    for (default: this one; the supervisor when the server runs as several).
    """
    engine = engine or make_engine(
        settings.database.engine_url(),
        pool_size=settings.database.pool_size,
        busy_timeout_ms=settings.database.busy_timeout_ms,
    )
    if migrate:
        upgrade(engine)
    metrics = CollectorMetrics()
    observed = instrument(metrics, engine, process_root=process_root)
    workers: WorkerPool | None = None
    ingest: Ingest
    processes = settings.collector.ingest_processes(server_processes=settings.server.workers)
    if processes > 0:
        workers = WorkerPool(
            processes,
            ingestor_from_json,
            (settings.model_dump_json(),),
        )
        ingest = workers.ingest
    else:
        ingest = in_thread(build_ingestor(settings, engine))
    admission = Admission(
        concurrent=settings.collector.max_concurrent_requests,
        queued=settings.collector.max_queued_requests,
        timeout=settings.collector.queue_timeout_seconds,
    )
    receiver = Receiver(
        ingest=ingest,
        authenticate=make_authenticate(engine, dev=settings.server.dev),
        metrics=metrics,
        admission=admission,
        reads=BodyReads(
            concurrent=settings.collector.max_concurrent_reads,
            max_buffered_bytes=settings.collector.max_buffered_bytes,
            timeout=settings.collector.body_timeout_seconds,
            max_body_bytes=settings.collector.max_body_bytes,
        ),
        retry_after_seconds=settings.collector.retry_after_seconds,
    )

    alerting = AlertService(
        engine,
        settings.alerts,
        analytics=settings.analytics,
        privacy=settings.privacy,
        public_url=settings.server.public_url,
        objectives=settings.objectives,
        on_evaluation=observed.evaluation,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if workers is not None:
            await anyio.to_thread.run_sync(workers.start)
        pruner = lease.holder_id()
        retention = asyncio.create_task(_prune_loop(engine, settings, holder=pruner))
        compaction = asyncio.create_task(_compaction_loop(engine, settings))
        assembly = asyncio.create_task(_assembly_loop(engine, settings, admission))
        summaries = asyncio.create_task(_log_summary_loop(metrics))
        loops = [retention, compaction, assembly, summaries]
        if settings.alerts.enabled:
            loops.append(asyncio.create_task(alerting.run()))
        try:
            yield
        finally:
            for task in loops:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            with contextlib.suppress(Exception):
                await anyio.to_thread.run_sync(
                    lambda: lease.release(engine, name=PRUNER, holder=pruner)
                )
            if workers is not None:
                await anyio.to_thread.run_sync(workers.shutdown)
            metrics.shutdown()
            forget_process(metrics)

    app = FastAPI(
        title="tierwatch",
        version=tierwatch.__version__,
        description="Observability and drift monitoring for hybrid device / edge / cloud AI.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.authenticate = receiver.authenticate
    app.state.metrics = metrics
    app.state.alert_holder = alerting.holder
    app.include_router(build_router(receiver))
    app.include_router(summary.router)
    for router in (
        health.router,
        requests.router,
        tiers.router,
        versions.router,
        timeseries.router,
        costs.router,
        objectives.router,
    ):
        app.include_router(router)
    app.include_router(advice.router)
    for router in (alerts.router, deliveries.router, silences.router, hooks.router):
        app.include_router(router)
    app.include_router(tokens.router)
    app.mount(
        "/dashboard", LazyDashboard(settings, engine=engine, authenticate=receiver.authenticate)
    )

    @app.get("/healthz", tags=["operations"], summary="Liveness and database reachability")
    def healthz() -> Response:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            log.warning("health check failed: %s", exc)
            return Response(
                '{"status":"unavailable"}', status_code=503, media_type="application/json"
            )
        return Response('{"status":"ok"}', media_type="application/json")

    @app.get("/metrics", tags=["operations"], summary="The server's own metrics (Prometheus text)")
    def prometheus_metrics() -> Response:
        return Response(metrics.prometheus_text(), media_type=CONTENT_TYPE_LATEST)

    return app


class LazyDashboard:
    """The dashboard as an ASGI app that is built on its first request.

    Dash, Flask and Plotly load only when someone opens the dashboard, so a
    server that only ingests (or an ingest replica behind a load balancer) does
    not carry them.
    """

    def __init__(self, settings: Settings, *, engine: Engine, authenticate: Any) -> None:
        self._settings = settings
        self._engine = engine
        self._authenticate = authenticate
        self._app: Any = None
        self._lock = threading.Lock()

    def _build(self) -> Any:
        with self._lock:
            if self._app is None:
                from a2wsgi import WSGIMiddleware

                from dashboard.app import build_dashboard

                settings = self._settings
                dash_app = build_dashboard(
                    self._engine,
                    analytics=settings.analytics,
                    privacy=settings.privacy,
                    settings=settings.dashboard,
                    authenticate=self._authenticate,
                    dev=settings.server.dev,
                    public_url=settings.server.public_url,
                    prices=settings.costs,
                    objectives=settings.objectives,
                )
                self._app = WSGIMiddleware(dash_app.server)
        return self._app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        app = self._app or await anyio.to_thread.run_sync(self._build)
        await app(scope, receive, send)


async def _prune_loop(engine: Engine, settings: Settings, *, holder: str) -> None:
    """Delete what is past its retention now and then, on one replica at a time; 0 turns it off.

    A failure is logged and tried again on the next pass.
    """
    interval = settings.server.prune_interval_seconds
    if interval <= 0:
        return
    # The lease outlives a pass and the wait after it, so the holder keeps it.
    ttl_ms = int(max(2 * interval, 60) * 1000)
    while True:
        try:
            pruned = await anyio.to_thread.run_sync(
                lambda: prune_if_holder(
                    engine,
                    holder=holder,
                    now_ms=time.time_ns() // 1_000_000,
                    ttl_ms=ttl_ms,
                    collector=settings.collector,
                    analytics=settings.analytics,
                    alerts=settings.alerts,
                )
            )
            for entry in pruned or ():
                if entry.rows:
                    log.info("pruned %s", entry.line())
        except Exception:
            log.exception("pruning failed; will try again")
        await asyncio.sleep(interval)


async def _log_summary_loop(metrics: CollectorMetrics) -> None:
    """Write the refused-request and rejected-span summary lines that fall due."""
    while True:
        await asyncio.sleep(metrics.refusals.interval)
        metrics.flush_logs()


async def _compaction_loop(engine: Engine, settings: Settings) -> None:
    """Fold closed hours into hourly rollups now and then (reports read less), and closed
    hours of attempts into advice rollups (the routing what-if); 0 turns it off.

    With objectives configured, closed hours of request rollups are folded too.
    """
    analytics = settings.analytics
    if analytics.compaction_interval_seconds <= 0:
        return
    while True:
        # Wait first: start-up (and migrations) should not compete with a compaction pass.
        await asyncio.sleep(analytics.compaction_interval_seconds)
        # Advice first: it reads the late-hour notes that compaction removes.
        try:
            await anyio.to_thread.run_sync(
                lambda: fold_advice(
                    engine,
                    now=int(time.time()),
                    grace_seconds=analytics.compaction_grace_seconds,
                    recheck_hours=analytics.compaction_recheck_hours,
                )
            )
        except Exception:
            log.exception("folding attempts for advice failed; will try again")
        try:
            await anyio.to_thread.run_sync(
                lambda: compact(
                    engine,
                    now=int(time.time()),
                    grace_seconds=analytics.compaction_grace_seconds,
                    recheck_hours=analytics.compaction_recheck_hours,
                )
            )
            if settings.objectives:
                # Hourly request rollups serve objectives only.
                await anyio.to_thread.run_sync(
                    lambda: compact_requests(
                        engine,
                        now=int(time.time()),
                        grace_seconds=analytics.compaction_grace_seconds,
                    )
                )
        except Exception:
            log.exception("compacting rollups failed; will try again")


async def _assembly_loop(engine: Engine, settings: Settings, admission: Admission) -> None:
    """Assemble newly stored attempts into requests now and then; 0 turns it off.

    Ingestion goes first: while export requests keep arriving, a pass waits, a
    second at a time, up to ``collector.assembly_max_delay_seconds`` after it fell
    due. Every server runs the loop; one pass runs at a time (see
    :mod:`collector.assemble`).
    """
    collector = settings.collector
    if collector.assembly_interval_seconds <= 0:
        return
    assembler = Assembler(engine, retention_days=collector.retention_days)
    try:
        while True:
            await asyncio.sleep(collector.assembly_interval_seconds)
            waited = 0.0
            while admission.busy(within=1.0) and waited < collector.assembly_max_delay_seconds:
                await asyncio.sleep(1.0)
                waited += 1.0
            try:
                await anyio.to_thread.run_sync(lambda: assembler.run(now_ns=time.time_ns()))
            except Exception:
                log.exception("assembling requests failed; will try again")
    finally:
        assembler.close()


#: Environment variable through which ``serve --workers N`` hands settings to each worker.
SETTINGS_ENV = "TIERWATCH_SERVE_SETTINGS"


def prepare_workers(settings: Settings) -> None:
    """Set what ``serve --workers N`` hands each worker: its settings, and where counts meet.

    Each worker process writes its metric values to files of its own in one
    directory (prometheus_client's multiprocess mode), and a scrape of any worker
    sums them. The directory is fresh for each start (or, when the operator names
    one in ``PROMETHEUS_MULTIPROC_DIR``, emptied) and removed at exit.
    """
    import atexit
    import os
    import shutil
    import tempfile

    from collector.telemetry import MULTIPROCESS_VARIABLE

    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    named = os.environ.get(MULTIPROCESS_VARIABLE)
    if named:
        for stale in Path(named).glob("*.db"):
            stale.unlink()
        return
    directory = tempfile.mkdtemp(prefix="tierwatch-metrics-")
    os.environ[MULTIPROCESS_VARIABLE] = directory
    atexit.register(shutil.rmtree, directory, ignore_errors=True)


def app_from_environment() -> FastAPI:
    """The app for one of several worker processes, with the settings the parent resolved.

    The parent has already brought the schema up to date, so workers do not migrate.
    """
    import os

    settings = Settings.model_validate_json(os.environ[SETTINGS_ENV])
    # The supervisor uvicorn runs above the workers is the root of the server's processes.
    return create_app(settings, migrate=False, process_root=os.getppid())
