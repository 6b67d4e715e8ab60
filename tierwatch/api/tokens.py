"""``/api/v1/tokens``: list, create and revoke API tokens (admin tokens only).

An admin token of one fleet manages that fleet's tokens; an admin token for
every fleet (``*``) manages them all. No answer ever holds a token's hash, and a
token's text only once, in the answer that creates it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, Field

from analytics.durations import parse_duration, to_unix
from collector.auth import Role, TokenInfo, issue_token, list_tokens, revoke_token
from tierwatch.api.deps import EngineDep, TokenAdmin

router = APIRouter(prefix="/api/v1", tags=["tokens"])
TokenId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The token's id.")]


def _time(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


class TokenModel(BaseModel):
    """A token without its secret: who it acts for, what it may do, and when it was used."""

    id: int
    fleet: str
    role: Role
    state: Literal["active", "expired", "revoked"] = Field(
        description="Whether the token is accepted now, and if not, why."
    )
    created_at: datetime
    last_used_at: datetime | None = Field(
        description="When the token was last accepted, to the minute; null: not since created."
    )
    expires_at: datetime | None = Field(description="When it stops being accepted; null: never.")
    revoked: bool

    @classmethod
    def of(cls, info: TokenInfo, *, now: int) -> TokenModel:
        return cls(
            id=info.id,
            fleet=info.fleet,
            role=info.role,  # type: ignore[arg-type]
            state=info.state(now),
            created_at=_time(info.created_at),  # type: ignore[arg-type]
            last_used_at=_time(info.last_used_at),
            expires_at=_time(info.expires_at),
            revoked=info.revoked,
        )


class TokensResponse(BaseModel):
    tokens: list[TokenModel]


class TokenCreate(BaseModel):
    """A token to create; without ``expires_in`` or ``expires_at`` it never expires."""

    fleet: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="The fleet (no control characters); '*' for every fleet.",
    )
    role: Role
    expires_in: str | None = Field(default=None, description="A duration from now, e.g. 90d.")
    expires_at: datetime | None = Field(default=None, description="An ISO 8601 time.")


class CreatedToken(TokenModel):
    token: str = Field(description="The token's text; shown this once only.")


@router.get("/tokens", response_model=TokensResponse, summary="Tokens")
def get_tokens(engine: EngineDep, principal: TokenAdmin) -> TokensResponse:
    """Every token the admin token may manage, oldest first, without secrets."""
    now = int(time.time())
    tokens = list_tokens(engine, fleet=principal.fleet)
    return TokensResponse(tokens=[TokenModel.of(t, now=now) for t in tokens])


@router.post(
    "/tokens",
    response_model=CreatedToken,
    status_code=status.HTTP_201_CREATED,
    summary="Create a token",
    responses={400: {"description": "Bad expiry."}, 403: {"description": "Another fleet."}},
)
def post_token(body: TokenCreate, engine: EngineDep, principal: TokenAdmin) -> CreatedToken:
    """Create a token; its text is in this answer only. Example body:
    ``{"fleet": "robots-eu", "role": "ingest", "expires_in": "90d"}``."""
    if principal.fleet is not None and body.fleet != principal.fleet:
        raise HTTPException(
            status_code=403, detail=f"this token may not create tokens for fleet {body.fleet!r}"
        )
    now = int(time.time())
    try:
        if body.expires_in is not None and body.expires_at is not None:
            raise ValueError("give expires_in or expires_at, not both")
        expires_at = None
        if body.expires_in is not None:
            expires_at = now + int(parse_duration(body.expires_in).total_seconds())
        elif body.expires_at is not None:
            expires_at = to_unix(body.expires_at)
        info, text = issue_token(
            engine, fleet=body.fleet, role=body.role, expires_at=expires_at, now=now
        )
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return CreatedToken(**TokenModel.of(info, now=now).model_dump(), token=text)


@router.delete(
    "/tokens/{token_id}",
    response_model=TokenModel,
    summary="Revoke a token",
    responses={404: {"description": "No such token (or not this token's fleet)."}},
)
def delete_token(token_id: TokenId, engine: EngineDep, principal: TokenAdmin) -> TokenModel:
    """Revoke token ``token_id``: it is refused from now on, by the API, the collector and
    the dashboard."""
    info = revoke_token(engine, token_id, fleet=principal.fleet)
    if info is None:
        raise HTTPException(status_code=404, detail=f"no token {token_id}")
    return TokenModel.of(info, now=int(time.time()))
