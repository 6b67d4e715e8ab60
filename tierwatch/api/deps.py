"""Dependencies shared by the read API routers, as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from sqlalchemy import Connection, Engine

from collector.auth import Principal
from collector.errors import IngestError


def _engine(request: Request) -> Engine:
    return request.app.state.engine


def _connection(request: Request) -> Iterator[Connection]:
    with _engine(request).connect() as conn:
        yield conn


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


EngineDep = Annotated[Engine, Depends(_engine)]
ConnectionDep = Annotated[Connection, Depends(_connection)]
ReadAuth = Annotated[Principal, Depends(_reader)]
#: Writes that change alerting (silences, test notifications): admin tokens only.
AdminAuth = Annotated[Principal, Depends(_admin)]
