"""API tokens: created with a fleet and a role, stored only as their SHA-256.

Tokens are 256-bit random strings, so a plain SHA-256 is enough to make a stolen
table useless (no password-style stretching is needed for random secrets).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine, insert, select

from collector.schema import TOKENS

Role = Literal["ingest", "read", "admin"]
ROLES: tuple[Role, ...] = ("ingest", "read", "admin")
PREFIX = "tw_"


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


def create_token(engine: Engine, *, fleet: str, role: str) -> str:
    """Create a token for ``fleet`` with ``role`` and return its text (shown once)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    if not fleet:
        raise ValueError("a token needs a fleet")
    token = PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(
            insert(TOKENS).values(
                token_hash=hash_token(token),
                fleet=fleet,
                role=role,
                created_at=int(time.time()),
                revoked=False,
            )
        )
    return token


def lookup(engine: Engine, token: str) -> Principal | None:
    """The principal a token stands for, or ``None`` if it is unknown or revoked."""
    table = TOKENS
    with engine.connect() as conn:
        row = conn.execute(
            select(table.c.fleet, table.c.role).where(
                table.c.token_hash == hash_token(token), table.c.revoked.is_(False)
            )
        ).first()
    if row is None:
        return None
    return Principal(fleet=row.fleet, role=row.role)


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
