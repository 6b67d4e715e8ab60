"""The dashboard behind the read token: sign-in by form, ``?token=`` or header; fleet limits.

Through the whole server (``create_app``) on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from collector.auth import create_token, hash_token
from collector.schema import TOKENS
from tests.conftest import make_settings
from tests.otlp import request, span
from tierwatch.app import create_app

HTML = {"Accept": "text/html,application/xhtml+xml"}
OVERVIEW = {
    "output": "..overview-body.children...overview-caption.children..",
    "outputs": [
        {"id": "overview-body", "property": "children"},
        {"id": "overview-caption", "property": "children"},
    ],
    "changedPropIds": ["refresh.n_intervals"],
    "state": [],
}


def overview_call(fleet: str | None) -> dict[str, Any]:
    """The overview callback's request, as the browser sends it."""
    return {
        **OVERVIEW,
        "inputs": [
            {"id": "window", "property": "value", "value": "1h"},
            {"id": "baseline", "property": "value", "value": "24h"},
            {"id": "fleet", "property": "value", "value": fleet},
            {"id": "refresh", "property": "n_intervals", "value": 0},
        ],
    }


@pytest.fixture
def secured(db_url: str, engine: Engine) -> Iterator[TestClient]:
    """A client of a server that asks for tokens (not ``--dev``)."""
    app = create_app(make_settings(db_url, dev=False), engine=engine, migrate=False)
    with TestClient(app) as client:
        yield client


def test_a_browser_without_a_token_gets_the_sign_in_form(secured: TestClient) -> None:
    answer = secured.get("/dashboard/segments?by=tier", headers=HTML)
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-store"
    assert '<form method="post" action="/dashboard/login" id="login-form">' in answer.text
    assert 'name="next" value="/dashboard/segments?by=tier"' in answer.text
    assert 'id="login-error"' not in answer.text  # nothing went wrong yet


def test_other_requests_without_a_token_get_401(secured: TestClient) -> None:
    answer = secured.get("/dashboard/_dash-layout")
    assert answer.status_code == 401
    assert answer.text == "A valid bearer token is required (Authorization: Bearer <token>)."
    assert answer.headers["www-authenticate"] == 'Bearer realm="tierwatch"'
    assert (
        secured.post("/dashboard/_dash-update-component", json=overview_call(None)).status_code
        == 401
    )


def test_token_in_the_url_sets_the_cookie_and_leaves_the_address(
    secured: TestClient, engine: Engine
) -> None:
    token = create_token(engine, fleet="shop", role="read")
    answer = secured.get(
        f"/dashboard/segments?by=tier&token={token}", headers=HTML, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard/segments?by=tier"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"tierwatch_token={token}; ")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/dashboard/" in cookie
    assert "Max-Age=43200" in cookie and "Secure" not in cookie  # plain HTTP here
    # the client now holds the cookie: the page and Dash's requests are served
    assert secured.get("/dashboard/segments?by=tier", headers=HTML).status_code == 200
    assert secured.get("/dashboard/_dash-layout").status_code == 200


@pytest.mark.parametrize(
    ("role", "status", "message"),
    [
        # an unknown token
        (None, 401, "unknown, revoked or expired token"),
        # a token that may not read
        ("ingest", 403, "this token&#x27;s role may not read; use a read or admin token"),
    ],
)
def test_a_token_that_cannot_read_is_refused(
    secured: TestClient, engine: Engine, role: str | None, status: int, message: str
) -> None:
    token = create_token(engine, fleet="shop", role=role) if role else "tw_nonsense"
    answer = secured.get(f"/dashboard/?token={token}", headers=HTML, follow_redirects=False)
    assert answer.status_code == status
    assert f'<p class="error" id="login-error">{message}</p>' in answer.text
    # the form's CSRF cookie only: no session
    assert answer.headers["set-cookie"].startswith("tierwatch_csrf=")
    assert "tierwatch_token" not in answer.headers["set-cookie"]


def _csrf(client: TestClient) -> str:
    """The CSRF token of the sign-in form this client was served (its cookie holds the same)."""
    page = client.get("/dashboard/login", headers=HTML)
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match is not None
    assert client.cookies["tierwatch_csrf"] == match.group(1)
    return match.group(1)


def test_sign_in_form_then_sign_out(secured: TestClient, engine: Engine) -> None:
    token = create_token(engine, fleet="shop", role="read")
    csrf = _csrf(secured)
    # a bad token keeps the form, with the reason
    answer = secured.post(
        "/dashboard/login", data={"token": "tw_bad", "next": "/dashboard/", "csrf": csrf}
    )
    assert answer.status_code == 401 and "unknown, revoked or expired token" in answer.text
    # "next" may only lead inside the dashboard
    answer = secured.post(
        "/dashboard/login",
        data={"token": f" {token} ", "next": "https://elsewhere.example/", "csrf": csrf},
        follow_redirects=False,
    )
    assert (answer.status_code, answer.headers["location"]) == (303, "/dashboard/")
    answer = secured.post(
        "/dashboard/login",
        data={"token": token, "next": "/dashboard/versions", "csrf": csrf},
        follow_redirects=False,
    )
    assert (answer.status_code, answer.headers["location"]) == (303, "/dashboard/versions")
    assert secured.get("/dashboard/versions", headers=HTML).status_code == 200
    answer = secured.get("/dashboard/logout", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/dashboard/login")
    assert answer.headers["set-cookie"].startswith("tierwatch_token=; Expires=Thu, 01 Jan 1970")
    assert secured.get("/dashboard/versions", headers=HTML).status_code == 401


@pytest.mark.parametrize(
    ("cookie", "posted"),
    [
        # a form posted from another site: no cookie, no field
        (None, None),
        # the field is missing
        ("a" * 43, None),
        # the field does not match this browser's cookie
        ("a" * 43, "b" * 43),
        # a field without the cookie
        (None, "a" * 43),
    ],
)
def test_sign_in_without_this_sites_form_is_refused(
    secured: TestClient, engine: Engine, cookie: str | None, posted: str | None
) -> None:
    token = create_token(engine, fleet="shop", role="read")
    if cookie is not None:
        secured.cookies.set("tierwatch_csrf", cookie, path="/dashboard/")
    data = {"token": token, "next": "/dashboard/"} | ({"csrf": posted} if posted else {})
    answer = secured.post("/dashboard/login", data=data, follow_redirects=False)
    assert answer.status_code == 403
    assert (
        '<p class="error" id="login-error">this sign-in form did not come from this dashboard '
        "(or expired); sign in again</p>" in answer.text
    )
    assert "tierwatch_token" not in answer.headers.get("set-cookie", "")
    assert secured.get("/dashboard/_dash-layout").status_code == 401


def test_the_csrf_cookie_is_strict_and_hidden_from_scripts(secured: TestClient) -> None:
    answer = secured.get("/dashboard/login", headers=HTML)
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("tierwatch_csrf=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/dashboard/" in cookie


def test_revoking_a_token_signs_its_browsers_out(secured: TestClient, engine: Engine) -> None:
    token = create_token(engine, fleet="shop", role="read")
    secured.get(f"/dashboard/?token={token}", headers=HTML)
    assert secured.get("/dashboard/_dash-layout").status_code == 200
    with engine.begin() as conn:
        conn.execute(
            update(TOKENS).where(TOKENS.c.token_hash == hash_token(token)).values(revoked=True)
        )
    answer = secured.get("/dashboard/", headers=HTML)
    assert answer.status_code == 401 and "unknown, revoked or expired token" in answer.text


def test_a_bearer_header_works_without_a_cookie(secured: TestClient, engine: Engine) -> None:
    token = create_token(engine, fleet="shop", role="admin")
    answer = secured.get("/dashboard/_dash-layout", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200


def test_dev_mode_asks_for_nothing(client: TestClient) -> None:
    answer = client.get("/dashboard/", headers=HTML)
    assert answer.status_code == 200 and "<title>tierwatch</title>" in answer.text
    # the mount answers without the trailing slash too
    assert client.get("/dashboard", headers=HTML).status_code == 200


def _send(client: TestClient, token: str, n: int) -> None:
    now = time.time_ns()
    spans = [span(i, start_ns=now - 120_000_000_000) for i in range(n)]
    answer = client.post(
        "/v1/traces",
        content=request(spans).SerializeToString(),
        headers={"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text


def _overview(client: TestClient, token: str, fleet: str | None) -> dict[str, Any]:
    answer = client.post(
        "/dashboard/_dash-update-component",
        json=overview_call(fleet),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["response"]


def test_a_fleet_token_sees_its_fleet_only(secured: TestClient, engine: Engine) -> None:
    _send(secured, create_token(engine, fleet="shop", role="ingest"), 3)
    _send(secured, create_token(engine, fleet="lab", role="ingest"), 5)
    shop = create_token(engine, fleet="shop", role="read")
    every = create_token(engine, fleet="*", role="read")
    # asking for another fleet changes nothing: the token decides
    caption = _overview(secured, shop, "lab")["overview-caption"]["children"]
    assert caption.startswith("fleet shop; window ")
    assert _overview(secured, every, None)["overview-caption"]["children"].startswith(
        "every fleet; window "
    )
    assert _overview(secured, every, "lab")["overview-caption"]["children"].startswith(
        "fleet lab; window "
    )
    fleets = secured.post(
        "/dashboard/_dash-update-component",
        json={
            "output": "..fleet.options...fleet.disabled...fleet.value...who.children..",
            "outputs": [{"id": "fleet", "property": p} for p in ("options", "disabled", "value")]
            + [{"id": "who", "property": "children"}],
            "inputs": [{"id": "refresh", "property": "n_intervals", "value": 0}],
            "changedPropIds": [],
            "state": [],
        },
        headers={"Authorization": f"Bearer {shop}"},
    ).json()["response"]
    assert fleets["fleet"] == {
        "options": [{"value": "shop", "label": "shop"}],
        "disabled": True,
        "value": "shop",
    }
