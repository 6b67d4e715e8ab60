"""``/api/v1/silences``: mute notifications of matching alerts until an end time.

Reading needs a read token; creating, changing and expiring need an admin token.
A fleet's token creates silences for its own fleet and sees those plus the ones
for every fleet.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status
from sqlalchemy import Connection

from analytics.alerting.queries import get_silence, list_silences
from analytics.alerting.silences import (
    BadSilence,
    Matcher,
    create_silence,
    expire_silence,
    matcher,
    update_silence,
)
from analytics.alerting.times import to_ms
from analytics.durations import parse_duration, parse_time
from collector.db import WRITE
from tierwatch.api.alert_models import (
    MatcherModel,
    SilenceCreate,
    SilenceModel,
    SilencesResponse,
    SilenceUpdate,
    record,
    records,
)
from tierwatch.api.deps import AdminAuth, ConnectionDep, EngineDep, ReadAuth
from tierwatch.api.query import fleet_scope

router = APIRouter(prefix="/api/v1", tags=["alerts"])
SilenceId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The silence's id.")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such silence (or not this token's to change)."}
}


@router.get("/silences", response_model=SilencesResponse, summary="Silences")
def get_silences(
    conn: ConnectionDep,
    principal: ReadAuth,
    active: Annotated[bool, Query(description="Only silences in force now.")] = False,
) -> dict[str, Any]:
    """Silences, newest first. Example: ``/api/v1/silences?active=true``."""
    frame = list_silences(conn, fleet=fleet_scope(principal, None), active_only=active)
    return {"silences": records(frame)}


@router.get(
    "/silences/{silence_id}",
    response_model=SilenceModel,
    summary="One silence",
    responses=_NOT_FOUND,
)
def get_one_silence(
    silence_id: SilenceId, conn: ConnectionDep, principal: ReadAuth
) -> dict[str, Any]:
    """The silence ``silence_id``."""
    return _found(conn, silence_id, fleet_scope(principal, None))


@router.post(
    "/silences",
    response_model=SilenceModel,
    status_code=status.HTTP_201_CREATED,
    summary="Create a silence",
    responses={400: {"description": "Bad matchers or times."}},
)
def post_silence(body: SilenceCreate, engine: EngineDep, principal: AdminAuth) -> dict[str, Any]:
    """Mute alerts whose labels match every matcher, from ``starts_at`` (default now) to
    ``ends_at`` or for ``duration``.

    Example body: ``{"matchers": [{"name": "tier", "value": "device"}], "duration": "2h",
    "created_by": "ana", "comment": "rollout of 2.2.0"}``.
    """
    now = datetime.now(UTC)
    starts = _time("starts_at", body.starts_at) if body.starts_at else now
    if (body.ends_at is None) == (body.duration is None):
        raise HTTPException(status_code=400, detail="give either ends_at or duration")
    if body.ends_at is not None:
        ends = _time("ends_at", body.ends_at)
    else:
        try:
            ends = starts + parse_duration(body.duration or "")
        except ValueError as exc:
            raise HTTPException(status_code=400, detail=f"invalid duration: {exc}") from None
        except OverflowError:
            raise HTTPException(status_code=400, detail="invalid duration: too long") from None
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE: True})
        with conn.begin():
            try:
                silence_id = create_silence(
                    conn,
                    matchers=_matchers(body.matchers),
                    starts_at=to_ms(starts),
                    ends_at=to_ms(ends),
                    created_by=body.created_by,
                    comment=body.comment,
                    fleet=principal.fleet,
                    now=to_ms(now),
                )
            except BadSilence as exc:
                raise HTTPException(status_code=400, detail=str(exc)) from None
        return _found(conn, silence_id, principal.fleet)


@router.put(
    "/silences/{silence_id}",
    response_model=SilenceModel,
    summary="Change a silence",
    responses={**_NOT_FOUND, 400: {"description": "Bad matchers or times."}},
)
def put_silence(
    silence_id: SilenceId, body: SilenceUpdate, engine: EngineDep, principal: AdminAuth
) -> dict[str, Any]:
    """Change the matchers, end or comment of a silence."""
    now = datetime.now(UTC)
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE: True})
        with conn.begin():
            try:
                changed = update_silence(
                    conn,
                    silence_id=silence_id,
                    fleet=principal.fleet,
                    now=to_ms(now),
                    matchers=_matchers(body.matchers) if body.matchers is not None else None,
                    ends_at=to_ms(_time("ends_at", body.ends_at)) if body.ends_at else None,
                    comment=body.comment,
                )
            except BadSilence as exc:
                raise HTTPException(status_code=400, detail=str(exc)) from None
        if not changed:
            raise HTTPException(status_code=404, detail=f"no silence {silence_id} to change")
        return _found(conn, silence_id, principal.fleet)


@router.delete(
    "/silences/{silence_id}",
    response_model=SilenceModel,
    summary="Expire a silence",
    responses=_NOT_FOUND,
)
def delete_silence(
    silence_id: SilenceId, engine: EngineDep, principal: AdminAuth
) -> dict[str, Any]:
    """End a silence now; it stays listed, inactive."""
    now = to_ms(datetime.now(UTC))
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE: True})
        with conn.begin():
            found = expire_silence(conn, silence_id=silence_id, fleet=principal.fleet, now=now)
        if not found:
            raise HTTPException(status_code=404, detail=f"no silence {silence_id} to expire")
        return _found(conn, silence_id, principal.fleet)


def _found(conn: Connection, silence_id: int, fleet: str | None) -> dict[str, Any]:
    row = get_silence(conn, silence_id=silence_id, fleet=fleet)
    if row is None:
        raise HTTPException(status_code=404, detail=f"no silence {silence_id}")
    return record(row)


def _matchers(given: list[MatcherModel]) -> list[Matcher]:
    return [matcher(m.name, m.op, m.value) for m in given]


def _time(name: str, text: str) -> datetime:
    try:
        return parse_time(text)
    except (ValueError, OverflowError):
        raise HTTPException(
            status_code=400, detail=f"invalid {name}: {text!r} is not an ISO 8601 time"
        ) from None
