"""The frame around every page: navigation, the shared controls, auto-refresh and routing."""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl

from dash import Dash, Input, Output, State, dcc, html, no_update

from dashboard.context import Context
from dashboard.pages import (
    advice,
    alerts,
    log,
    objectives,
    overview,
    requests,
    segments,
    tiers,
    versions,
)
from dashboard.period import BASELINES, WINDOWS, options

#: Pages by their path under the dashboard's prefix.
PAGES: dict[str, ModuleType] = {
    "": overview,
    "segments": segments,
    "tiers": tiers,
    "requests": requests,
    "versions": versions,
    "objectives": objectives,
    "advice": advice,
    "alerts": alerts,
}


def layout(ctx: Context, *, prefix: str, refresh_seconds: int) -> html.Div:
    """The shell: header with navigation and controls, then the page."""
    nav = [
        dcc.Link(page.TITLE, href=prefix + path, id=f"nav-{path or 'overview'}", className="nav")
        for path, page in PAGES.items()
    ]
    controls = html.Div(
        [
            html.Div(
                [
                    html.Label("Fleet", htmlFor="fleet"),
                    dcc.Dropdown(id="fleet", placeholder="every fleet", clearable=True),
                ],
                className="control",
            ),
            html.Div(
                [
                    html.Label("Window", htmlFor="window"),
                    dcc.Dropdown(
                        id="window",
                        options=options(WINDOWS, ctx.analytics.default_window),
                        value=ctx.analytics.default_window,
                        clearable=False,
                        persistence=True,
                        persistence_type="local",
                    ),
                ],
                className="control",
            ),
            html.Div(
                [
                    html.Label("against", htmlFor="baseline"),
                    dcc.Dropdown(
                        id="baseline",
                        options=options(BASELINES, ctx.analytics.default_baseline),
                        value=ctx.analytics.default_baseline,
                        clearable=False,
                        persistence=True,
                        persistence_type="local",
                    ),
                ],
                className="control",
            ),
        ],
        className="controls",
    )
    return html.Div(
        [
            dcc.Location(id="url"),
            dcc.Interval(
                id="refresh",
                interval=max(refresh_seconds, 1) * 1000,
                disabled=refresh_seconds == 0,
            ),
            html.Header(
                [
                    html.Div(
                        [
                            html.Span("tierwatch", className="brand"),
                            html.Nav(nav, className="navs"),
                            html.Span(id="who", className="who"),
                        ],
                        className="bar",
                    ),
                    controls,
                ],
                className="header",
            ),
            html.Main(id="page", className="page"),
        ],
        className="shell",
    )


def route(pathname: str | None, prefix: str) -> str:
    """The page key of a path under ``prefix`` (``""`` is the overview)."""
    path = pathname or prefix
    if path.rstrip("/") == prefix.rstrip("/"):
        return ""
    if path.startswith(prefix):
        path = path[len(prefix) :]
    return path.strip("/")


def page(ctx: Context, *, pathname: str | None, search: str | None, prefix: str) -> Any:
    """The layout of the page at ``pathname``, or a note with links when there is none."""
    key = route(pathname, prefix)
    module = PAGES.get(key)
    if module is None:
        return html.Div(
            [
                html.H1("No such page"),
                html.P(f"There is no dashboard page at {pathname}."),
                dcc.Link("Go to the overview", href=prefix),
            ],
            id="not-found",
        )
    query: Mapping[str, str] = dict(parse_qsl((search or "").lstrip("?")))
    return module.layout(query, ctx)


def who(ctx: Context, *, prefix: str) -> list[Any]:
    """Who is looking: development mode, or the token's fleet and role with a sign-out link."""
    if ctx.dev:
        return ["development mode: no sign-in"]
    principal = ctx.principal()
    fleet = principal.fleet or "every fleet"
    return [
        f"{fleet} · {principal.role} token ",
        html.A("sign out", href=prefix + "logout", id="sign-out"),
    ]


def fleet_choice(ctx: Context) -> tuple[list[dict[str, str]], bool, Any]:
    """Options of the fleet control, whether it is locked, and its value.

    A token for one fleet sees that fleet only, locked; a token for every fleet
    chooses among the fleets the store holds.
    """
    own = ctx.principal().fleet
    if own is not None:
        return [{"value": own, "label": own}], True, own
    fleets = ctx.source.fleets(fleet=None)
    return [{"value": f, "label": f} for f in fleets], False, no_update


def register(app: Dash, ctx: Context, *, prefix: str) -> None:
    """Routing, navigation highlight, the fleet control and the signed-in line."""
    nav_ids = [f"nav-{path or 'overview'}" for path in PAGES]

    @app.callback(
        Output("page", "children"),
        *(Output(i, "className") for i in nav_ids),
        Input("url", "pathname"),
        State("url", "search"),
    )
    def show(pathname: str | None, search: str | None):
        key = route(pathname, prefix)
        classes = ["nav active" if key == path else "nav" for path in PAGES]
        return (page(ctx, pathname=pathname, search=search, prefix=prefix), *classes)

    @app.callback(
        Output("fleet", "options"),
        Output("fleet", "disabled"),
        Output("fleet", "value"),
        Output("who", "children"),
        Input("refresh", "n_intervals"),
    )
    def fleets(_tick: Any):
        try:
            choice = fleet_choice(ctx)
        except Exception:
            log.exception("listing fleets failed")
            choice = ([], False, no_update)
        return (*choice, who(ctx, prefix=prefix))
