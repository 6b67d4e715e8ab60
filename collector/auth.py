"""API tokens: created with a fleet and a role, stored only as their SHA-256.

Tokens are 256-bit random strings, so a plain SHA-256 is enough to make a stolen
table useless (no password-style stretching is needed for random secrets).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from collector.db import WRITE
from collector.schema import TOKENS

log = logging.getLogger(__name__)

Role = Literal["ingest", "read", "admin"]
ROLES: tuple[Role, ...] = ("ingest", "read", "admin")
PREFIX = "tw_"
#: A token's last use is recorded when the stored one is at least this old (seconds).
LAST_USED_EVERY = 60


@dataclass(frozen=True)
class Principal:
    """Who a request is from: the token's fleet and role."""

    fleet: str | None
    role: Role

    def may_read(self) -> bool:
        return self.role in ("read", "admin")

    def may_ingest(self) -> bool:
        return self.role in ("ingest", "admin")


#: The principal of every request when authentication is off (``--dev``).
DEV_PRINCIPAL = Principal(fleet=None, role="admin")


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    """What is known of a token apart from its secret: never its text or its hash."""

    id: int
    fleet: str
    role: str
    created_at: int
    last_used_at: int | None
    expires_at: int | None
    revoked: bool

    def state(self, now: int) -> Literal["active", "expired", "revoked"]:
        """Whether the token is accepted at ``now`` (Unix seconds), and if not, why."""
        if self.revoked:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


def issue_token(
    engine: Engine, *, fleet: str, role: str, expires_at: int | None = None, now: int | None = None
) -> tuple[TokenInfo, str]:
    """Create a token for ``fleet`` with ``role``; its record and its text (shown once).

    ``expires_at`` (Unix seconds) is when it stops being accepted; ``None``: never.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    if not fleet:
        raise ValueError("a token needs a fleet")
    created = int(time.time()) if now is None else now
    if expires_at is not None and expires_at <= created:
        raise ValueError("a token's expiry must be in the future")
    token = PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        token_id = conn.execute(
            insert(TOKENS)
            .values(
                token_hash=hash_token(token),
                fleet=fleet,
                role=role,
                created_at=created,
                revoked=False,
                expires_at=expires_at,
            )
            .returning(TOKENS.c.id)
        ).scalar_one()
    info = TokenInfo(
        id=token_id,
        fleet=fleet,
        role=role,
        created_at=created,
        last_used_at=None,
        expires_at=expires_at,
        revoked=False,
    )
    return info, token


def create_token(engine: Engine, *, fleet: str, role: str, expires_at: int | None = None) -> str:
    """Create a token for ``fleet`` with ``role`` and return its text (shown once)."""
    return issue_token(engine, fleet=fleet, role=role, expires_at=expires_at)[1]


def list_tokens(engine: Engine, *, fleet: str | None = None) -> list[TokenInfo]:
    """Every token (or ``fleet``'s), oldest first."""
    t = TOKENS
    query = select(
        t.c.id, t.c.fleet, t.c.role, t.c.created_at, t.c.last_used_at, t.c.expires_at, t.c.revoked
    ).order_by(t.c.id)
    if fleet is not None:
        query = query.where(t.c.fleet == fleet)
    with engine.connect() as conn:
        return [TokenInfo(**row._mapping) for row in conn.execute(query)]


def revoke_token(engine: Engine, token_id: int, *, fleet: str | None = None) -> TokenInfo | None:
    """Revoke token ``token_id`` (of ``fleet``, when given); ``None`` if there is no such token.

    Revoking a revoked token changes nothing and is not an error.
    """
    t = TOKENS
    where = [t.c.id == token_id] + ([t.c.fleet == fleet] if fleet is not None else [])
    with engine.begin() as conn:
        found = conn.execute(update(t).where(*where).values(revoked=True)).rowcount
    if not found:
        return None
    return next(info for info in list_tokens(engine, fleet=fleet) if info.id == token_id)


def lookup(engine: Engine, token: str, *, now: int | None = None) -> Principal | None:
    """The principal a token stands for, or ``None`` if it is unknown, revoked or expired.

    Records when the token was used, at most once per :data:`LAST_USED_EVERY` seconds,
    so that a busy sender does not turn every request into a write.
    """
    now = int(time.time()) if now is None else now
    t = TOKENS
    with engine.connect() as conn:
        row = conn.execute(
            select(t.c.id, t.c.fleet, t.c.role, t.c.last_used_at).where(
                t.c.token_hash == hash_token(token),
                t.c.revoked.is_(False),
                or_(t.c.expires_at.is_(None), t.c.expires_at > now),
            )
        ).first()
    if row is None:
        return None
    if row.last_used_at is None or row.last_used_at <= now - LAST_USED_EVERY:
        _record_use(engine, row.id, now)
    return Principal(fleet=row.fleet, role=row.role)


def _record_use(engine: Engine, token_id: int, now: int) -> None:
    t = TOKENS
    stale = or_(t.c.last_used_at.is_(None), t.c.last_used_at <= now - LAST_USED_EVERY)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(**{WRITE: True})
            with conn.begin():
                conn.execute(update(t).where(t.c.id == token_id, stale).values(last_used_at=now))
    except SQLAlchemyError as exc:
        # Only bookkeeping: a busy database must not refuse a valid token.
        log.warning("could not record the use of token %d: %s", token_id, exc)


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
