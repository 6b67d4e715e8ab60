"""Tokens over their life: expiry and revocation refuse them everywhere; admins manage them.

Through the whole server (``create_app`` with authentication on) on SQLite and PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from collector.auth import (
    LAST_USED_EVERY,
    create_token,
    hash_token,
    issue_token,
    list_tokens,
    lookup,
    revoke_token,
)
from collector.schema import TOKENS
from tests.conftest import make_settings
from tests.otlp import request, span
from tierwatch.app import create_app

REFUSED = {"detail": "unknown, revoked or expired token"}


@pytest.fixture
def secured(db_url: str, engine: Engine) -> Iterator[TestClient]:
    """A client of a server that asks for tokens (not ``--dev``)."""
    app = create_app(make_settings(db_url, dev=False), engine=engine, migrate=False)
    with TestClient(app) as client:
        yield client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _ingest(client: TestClient, token: str) -> int:
    body = request([span(1, start_ns=time.time_ns() - 60_000_000_000)]).SerializeToString()
    headers = {"Content-Type": "application/x-protobuf", **_bearer(token)}
    return client.post("/v1/traces", content=body, headers=headers).status_code


def _expire(engine: Engine, token: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(TOKENS)
            .where(TOKENS.c.token_hash == hash_token(token))
            .values(expires_at=int(time.time()) - 1)
        )


def test_revoked_and_expired_tokens_are_refused_on_ingest(
    secured: TestClient, engine: Engine
) -> None:
    revoked = create_token(engine, fleet="shop", role="ingest")
    expired = create_token(engine, fleet="shop", role="ingest", expires_at=int(time.time()) + 60)
    assert (_ingest(secured, revoked), _ingest(secured, expired)) == (200, 200)
    (first, _) = list_tokens(engine)
    revoke_token(engine, first.id)
    _expire(engine, expired)
    assert (_ingest(secured, revoked), _ingest(secured, expired)) == (401, 401)


def test_revoked_and_expired_tokens_are_refused_on_the_read_api(
    secured: TestClient, engine: Engine
) -> None:
    revoked = create_token(engine, fleet="shop", role="read")
    expired = create_token(engine, fleet="shop", role="read", expires_at=int(time.time()) + 60)
    for token in (revoked, expired):
        assert secured.get("/api/v1/summary", headers=_bearer(token)).status_code == 200
    (first, _) = list_tokens(engine)
    revoke_token(engine, first.id)
    _expire(engine, expired)
    for token in (revoked, expired):
        answer = secured.get("/api/v1/summary", headers=_bearer(token))
        assert (answer.status_code, answer.json()) == (401, REFUSED)


def test_last_use_is_recorded_at_most_once_a_minute(engine: Engine) -> None:
    token = create_token(engine, fleet="shop", role="ingest")
    now = 1_800_000_000

    def last_used() -> int | None:
        with engine.connect() as conn:
            return conn.execute(select(TOKENS.c.last_used_at)).scalar_one()

    assert last_used() is None
    assert lookup(engine, token, now=now) is not None
    assert last_used() == now
    # within the minute nothing is written
    assert lookup(engine, token, now=now + LAST_USED_EVERY - 1) is not None
    assert last_used() == now
    # a minute later it is
    assert lookup(engine, token, now=now + LAST_USED_EVERY) is not None
    assert last_used() == now + LAST_USED_EVERY


def test_expiry_must_be_in_the_future(engine: Engine) -> None:
    with pytest.raises(ValueError, match="a token's expiry must be in the future"):
        issue_token(engine, fleet="shop", role="read", expires_at=int(time.time()) - 5)


def test_admins_list_create_and_revoke_tokens(secured: TestClient, engine: Engine) -> None:
    admin = create_token(engine, fleet="*", role="admin")
    answer = secured.post(
        "/api/v1/tokens",
        json={"fleet": "shop", "role": "ingest", "expires_in": "90d"},
        headers=_bearer(admin),
    )
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["token"].startswith("tw_")
    assert (created["id"], created["fleet"], created["role"], created["state"]) == (
        2,
        "shop",
        "ingest",
        "active",
    )
    assert created["expires_at"].endswith("Z") and created["last_used_at"] is None
    assert _ingest(secured, created["token"]) == 200

    listed = secured.get("/api/v1/tokens", headers=_bearer(admin)).json()["tokens"]
    assert [(t["id"], t["fleet"], t["role"]) for t in listed] == [
        (1, "*", "admin"),
        (2, "shop", "ingest"),
    ]
    # neither the secret nor its hash is ever shown
    assert all(set(t) == set(created) - {"token"} for t in listed)
    assert created["token"] not in str(listed)
    assert hash_token(created["token"]) not in str(listed)

    answer = secured.delete("/api/v1/tokens/2", headers=_bearer(admin))
    assert (answer.status_code, answer.json()["state"], answer.json()["revoked"]) == (
        200,
        "revoked",
        True,
    )
    assert _ingest(secured, created["token"]) == 401
    assert secured.delete("/api/v1/tokens/99", headers=_bearer(admin)).status_code == 404


@pytest.mark.parametrize(
    ("fleet", "role", "method", "path", "body", "status", "detail"),
    [
        # a read token may not manage tokens
        (
            "shop",
            "read",
            "GET",
            "/api/v1/tokens",
            None,
            403,
            "this token's role may not manage tokens; use an admin token",
        ),
        # a fleet's admin may not create tokens for another fleet
        (
            "shop",
            "admin",
            "POST",
            "/api/v1/tokens",
            {"fleet": "lab", "role": "read"},
            403,
            "this token may not create tokens for fleet 'lab'",
        ),
        # nor revoke another fleet's (token 1 is the lab's)
        ("shop", "admin", "DELETE", "/api/v1/tokens/1", None, 404, "no token 1"),
        # an expiry in the past
        (
            "*",
            "admin",
            "POST",
            "/api/v1/tokens",
            {"fleet": "lab", "role": "read", "expires_at": "2001-01-01T00:00:00Z"},
            400,
            "a token's expiry must be in the future",
        ),
    ],
)
def test_token_management_is_limited(
    secured: TestClient,
    engine: Engine,
    fleet: str,
    role: str,
    method: str,
    path: str,
    body: dict[str, str] | None,
    status: int,
    detail: str,
) -> None:
    create_token(engine, fleet="lab", role="read")
    token = create_token(engine, fleet=fleet, role=role)
    answer = secured.request(method, path, json=body, headers=_bearer(token))
    assert (answer.status_code, answer.json()) == (status, {"detail": detail})


def test_a_fleet_admin_sees_its_fleets_tokens_only(secured: TestClient, engine: Engine) -> None:
    create_token(engine, fleet="lab", role="read")
    admin = create_token(engine, fleet="shop", role="admin")
    listed = secured.get("/api/v1/tokens", headers=_bearer(admin)).json()["tokens"]
    assert [(t["fleet"], t["role"]) for t in listed] == [("shop", "admin")]
