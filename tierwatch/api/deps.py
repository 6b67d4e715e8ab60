"""Dependencies of the read API routers as ``Annotated`` aliases: database, settings, tokens."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request
from sqlalchemy import Connection, Engine

from analytics.config import AnalyticsSettings, CostSettings, Objective
from collector.auth import Principal
from collector.errors import IngestError
from collector.schema import SEGMENT_DIMENSIONS
from tierwatch.api.query import REPORT_PARAMETERS, ReportQuery, report_query


def _engine(request: Request) -> Engine:
    return request.app.state.engine


def _connection(request: Request) -> Iterator[Connection]:
    with _engine(request).connect() as conn:
        yield conn


def _analytics_settings(request: Request) -> AnalyticsSettings:
    return request.app.state.settings.analytics


def _prices(request: Request) -> CostSettings:
    return request.app.state.settings.costs


def _objectives(request: Request) -> list[Objective]:
    return list(request.app.state.settings.objectives)


def _principal(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Principal:
    try:
        return request.app.state.authenticate(authorization)
    except IngestError as exc:
        headers = (
            {"WWW-Authenticate": 'Bearer realm="tierwatch"'} if exc.status_code == 401 else None
        )
        raise HTTPException(
            status_code=exc.status_code, detail=exc.message, headers=headers
        ) from exc


def _reader(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
    if not principal.may_read():
        raise HTTPException(
            status_code=403, detail="this token's role may not read; use a read or admin token"
        )
    return principal


def _admin(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
    if principal.role != "admin":
        raise HTTPException(
            status_code=403, detail="this token's role may not change alerting; use an admin token"
        )
    return principal


def _token_admin(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
    if principal.role != "admin":
        raise HTTPException(
            status_code=403, detail="this token's role may not manage tokens; use an admin token"
        )
    return principal


EngineDep = Annotated[Engine, Depends(_engine)]
ConnectionDep = Annotated[Connection, Depends(_connection)]
#: The ``[analytics]`` section of the app's settings.
SettingsDep = Annotated[AnalyticsSettings, Depends(_analytics_settings)]
#: The ``[[costs]]`` price list of the app's settings.
PricesDep = Annotated[CostSettings, Depends(_prices)]
#: The ``[[objectives]]`` of the app's settings.
ObjectivesDep = Annotated[list[Objective], Depends(_objectives)]
ReadAuth = Annotated[Principal, Depends(_reader)]
#: Writes that change alerting (silences, test notifications): admin tokens only.
AdminAuth = Annotated[Principal, Depends(_admin)]
#: Managing tokens: admin tokens only, within their fleet unless they are for every fleet.
TokenAdmin = Annotated[Principal, Depends(_token_admin)]


class _ReportQueryReader:
    """A dependency that reads a :class:`ReportQuery` from the query parameters it names."""

    def __init__(self, parameters: tuple[str, ...], default_window: str | None) -> None:
        self.default_window = default_window
        # FastAPI takes a dependency's parameters from its signature: this one lists
        # exactly the parameters its endpoint accepts, so the others stay unknown to it.
        kind = inspect.Parameter.KEYWORD_ONLY
        given = [
            inspect.Parameter(name, kind, default=None, annotation=REPORT_PARAMETERS[name])
            for name in parameters
        ]
        self.__signature__ = inspect.Signature(
            [
                inspect.Parameter("principal", kind, annotation=ReadAuth),
                inspect.Parameter("settings", kind, annotation=SettingsDep),
                *given,
            ],
            return_annotation=ReportQuery,
        )

    def __call__(
        self, principal: Principal, settings: AnalyticsSettings, **given: str | None
    ) -> ReportQuery:
        return report_query(principal, settings, given, default_window=self.default_window)


def _report_query(*parameters: str, default_window: str | None = None) -> Any:
    """``Depends`` on the report query read from ``parameters`` (a read token is required)."""
    return Depends(_ReportQueryReader(parameters, default_window))


#: ``/health`` and ``/findings``: a report grouped ``by`` dimensions.
HealthQueryDep = Annotated[ReportQuery, _report_query("window", "baseline", "end", "by", "fleet")]
#: ``/requests``: requests grouped ``by`` dimensions of their first attempt.
RequestsQueryDep = Annotated[ReportQuery, _report_query("window", "end", "by", "fleet")]
#: ``/versions``: version drift of one model or all.
VersionsQueryDep = Annotated[
    ReportQuery, _report_query("window", "baseline", "end", "fleet", "model")
]
#: ``/tiers``: local tiers against the cloud, for one task or all.
TiersQueryDep = Annotated[ReportQuery, _report_query("window", "end", "fleet", "task")]
#: ``/costs``: a week unless told otherwise.
CostsQueryDep = Annotated[ReportQuery, _report_query("window", "end", "fleet", default_window="7d")]
#: ``/advice``: one task's what-if over a week unless told otherwise.
AdviceQueryDep = Annotated[
    ReportQuery, _report_query("window", "end", "fleet", "task", default_window="7d")
]
#: ``/timeseries``: one segment, named by any of the dimensions.
SeriesQueryDep = Annotated[ReportQuery, _report_query("window", "end", *SEGMENT_DIMENSIONS)]
#: ``/versions/series``: a day unless told otherwise.
VersionSeriesQueryDep = Annotated[
    ReportQuery, _report_query("window", "end", "fleet", default_window="24h")
]
#: ``/objectives``: every objective at ``end``, of one fleet or all.
ObjectivesQueryDep = Annotated[ReportQuery, _report_query("end", "fleet")]
