"""Build the Dash app and mount it on the server under ``/dashboard/``.

Dash runs on its Flask server; a WSGI-to-ASGI bridge (a2wsgi) mounts that under
the FastAPI app, so the dashboard shares the server's port, database engine and
token check. Everything the callbacks need is handed to them in one
:class:`~dashboard.context.Context`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from a2wsgi import WSGIMiddleware
from dash import Dash, html
from fastapi import FastAPI
from flask import Flask, request
from sqlalchemy import Engine

from analytics.config import AnalyticsSettings
from dashboard import auth, shell
from dashboard.config import DashboardSettings
from dashboard.context import Context, utc_now
from dashboard.source import AnalyticsSource, Source
from tierwatch.settings import Settings

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


def mount_dashboard(
    api: FastAPI,
    settings: Settings,
    *,
    engine: Engine,
    authenticate: auth.Authenticate,
) -> Dash:
    """Serve the dashboard from ``api`` under ``/dashboard/``; returns the Dash app."""
    dash_app = build_dashboard(settings, engine=engine, authenticate=authenticate)
    api.mount(PREFIX.rstrip("/"), WSGIMiddleware(dash_app.server))  # type: ignore[arg-type]
    return dash_app


def build_dashboard(settings: Settings, *, engine: Engine, authenticate: auth.Authenticate) -> Dash:
    """The dashboard for ``settings``, reading through analytics on ``engine``."""
    return create_dashboard(
        AnalyticsSource(engine, settings=settings.analytics, privacy=settings.privacy),
        analytics=settings.analytics,
        settings=settings.dashboard,
        authenticate=authenticate,
        dev=settings.server.dev,
        public_url=settings.server.public_url,
    )
