"""Build the Dash app that the server mounts under ``/dashboard/``.

Dash runs on its Flask server; the server mounts that under the FastAPI app
through a WSGI-to-ASGI bridge (a2wsgi), so the dashboard shares the server's
port, database engine and token check. Everything the callbacks need is handed
to them in one :class:`~dashboard.context.Context`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from dash import Dash, html
from flask import Flask, request
from sqlalchemy import Engine

from analytics.config import AnalyticsSettings, CostSettings, Objective
from collector.config import PrivacySettings
from dashboard import auth, shell
from dashboard.config import DashboardSettings
from dashboard.context import Context, utc_now
from dashboard.source import AnalyticsSource, Source

PREFIX = "/dashboard/"
ASSETS = Path(__file__).resolve().parent / "assets"


def create_dashboard(
    source: Source,
    *,
    analytics: AnalyticsSettings,
    settings: DashboardSettings,
    authenticate: auth.Authenticate,
    dev: bool,
    prefix: str = PREFIX,
    public_url: str = "",
    clock: Callable[[], datetime] = utc_now,
) -> Dash:
    """The dashboard as a Dash app whose pages are served under ``prefix``."""
    server = Flask("tierwatch.dashboard")
    auth.install(server, authenticate=authenticate, session_hours=settings.session_hours)
    app = Dash(
        "tierwatch.dashboard",
        server=server,  # type: ignore[arg-type]  # a Flask app, which Dash types narrowly
        requests_pathname_prefix=prefix,
        routes_pathname_prefix="/",
        assets_folder=str(ASSETS),
        title="tierwatch",
        update_title="",  # keep the page title while callbacks run
        serve_locally=True,
    )
    ctx = Context(
        source=source,
        analytics=analytics,
        dev=dev,
        clock=clock,
        principal=auth.current_principal,
        endpoint=lambda: public_url.rstrip("/") or request.host_url.rstrip("/"),
    )
    app.layout = shell.layout(ctx, prefix=prefix, refresh_seconds=settings.refresh_seconds)
    # Pages are swapped in by the router; Dash checks callbacks against all of them.
    app.validation_layout = html.Div(  # type: ignore[assignment]
        [app.layout, *(page.layout({}, ctx) for page in shell.PAGES.values())]
    )
    shell.register(app, ctx, prefix=prefix)
    for page in shell.PAGES.values():
        page.register(app, ctx)
    return app


def build_dashboard(
    engine: Engine,
    *,
    analytics: AnalyticsSettings,
    privacy: PrivacySettings,
    settings: DashboardSettings,
    authenticate: auth.Authenticate,
    dev: bool,
    public_url: str = "",
    objectives: Sequence[Objective] = (),
    prices: CostSettings | None = None,
) -> Dash:
    """The dashboard reading through analytics on ``engine``; ``objectives`` for their page,
    ``prices`` and the objectives' goals for the advice."""
    return create_dashboard(
        AnalyticsSource(
            engine, settings=analytics, privacy=privacy, objectives=objectives, prices=prices
        ),
        analytics=analytics,
        settings=settings,
        authenticate=authenticate,
        dev=dev,
        public_url=public_url,
    )
