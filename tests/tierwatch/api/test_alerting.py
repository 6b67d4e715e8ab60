"""The alerting API: alerts and history, deliveries, silences, hooks and test notifications."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from analytics.alerting.rules import fingerprint
from analytics.alerting.signing import verify
from collector.auth import create_token
from tests.analytics.alerting.conftest import SECRET
from tests.analytics.alerting.receiver import Receiver
from tests.analytics.alerting.test_evaluator import ERRORS_RULE, KEY, Stack, stack_for
from tests.conftest import make_settings
from tierwatch.app import create_app

FP = fingerprint("high_errors", KEY)


@pytest.fixture
def firing(db_url: str, engine: Engine, receiver: Receiver) -> Iterator[Stack]:
    """A stack whose high_errors alert fires (its notification not yet sent)."""
    for stack in stack_for(db_url, engine, receiver):
        stack.post(10, error=True)
        assert stack.evaluate(datetime.now(UTC)) is not None
        yield stack


@pytest.fixture
def plain(db_url: str, engine: Engine, receiver: Receiver) -> Iterator[Stack]:
    """A stack without data."""
    yield from stack_for(db_url, engine, receiver)


def test_alerts_and_history(firing: Stack) -> None:
    client = firing.client
    resp = client.get("/api/v1/alerts")
    assert resp.status_code == 200
    (alert,) = resp.json()["alerts"]
    assert {
        k: alert[k]
        for k in (
            "fingerprint",
            "rule",
            "severity",
            "state",
            "fleet",
            "value",
            "silenced_by",
            "resolved_at",
        )
    } == {
        "fingerprint": FP,
        "rule": "high_errors",
        "severity": "warning",
        "state": "firing",
        "fleet": "robots",
        "value": 1.0,
        "silenced_by": None,
        "resolved_at": None,
    }
    assert alert["labels"] == {
        "team": "mobile",
        "alertname": "high_errors",
        "severity": "warning",
        **KEY,
    }
    assert alert["started_at"].endswith("Z") and alert["started_at"] == alert["active_since"]
    assert client.get("/api/v1/alerts", params={"state": "resolved,inactive"}).json() == {
        "alerts": []
    }
    assert [
        a["state"]
        for a in client.get("/api/v1/alerts", params={"state": "firing"}).json()["alerts"]
    ] == ["firing"]
    bad = client.get("/api/v1/alerts", params={"state": "burning"})
    assert (bad.status_code, bad.json()) == (
        400,
        {
            "detail": "invalid state: unknown alert state 'burning'; states are firing, pending, resolved, inactive"
        },
    )
    one = client.get(f"/api/v1/alerts/{FP}").json()
    assert [(e["from_state"], e["to_state"]) for e in one["history"]] == [(None, "firing")]
    assert one["history"][0]["summary"] == alert["summary"]
    assert client.get("/api/v1/alerts/0000000000000000").status_code == 404
    events = client.get("/api/v1/alerts/history").json()["events"]
    assert [(e["fingerprint"], e["to_state"]) for e in events] == [(FP, "firing")]


def test_deliveries_hooks_and_test_notification(firing: Stack) -> None:
    client = firing.client
    (pending,) = client.get("/api/v1/deliveries").json()["deliveries"]
    assert {
        k: pending[k]
        for k in (
            "hook",
            "kind",
            "event",
            "fingerprint",
            "fleet",
            "status",
            "attempts",
            "last_status_code",
            "delivered_at",
        )
    } == {
        "hook": "ops",
        "kind": "webhook",
        "event": "firing",
        "fingerprint": FP,
        "fleet": "robots",
        "status": "pending",
        "attempts": 0,
        "last_status_code": None,
        "delivered_at": None,
    }
    assert pending["webhook_id"].startswith("msg_")
    assert client.get("/api/v1/hooks").json() == {
        "hooks": [
            {
                "name": "ops",
                "kind": "webhook",
                "host": "127.0.0.1",
                "fleets": [],
                "severities": [],
                "signed": True,
                "headers": [],
            }
        ]
    }
    result = client.post("/api/v1/hooks/ops/test")
    assert result.status_code == 200
    body = result.json()
    assert (body["status"], body["status_code"], body["error"]) == ("delivered", 200, None)
    (seen,) = firing.receiver.requests
    assert seen.webhook_id == body["webhook_id"]
    sent = json.loads(seen.body)
    assert (sent["type"], sent["data"]["rule"], sent["data"]["summary"]) == (
        "alert.test",
        "tierwatch_test",
        "Test notification from tierwatch to hook ops",
    )
    statuses = client.get("/api/v1/deliveries", params={"status": "delivered"}).json()["deliveries"]
    assert [(d["event"], d["status"], d["attempts"]) for d in statuses] == [
        ("test", "delivered", 1)
    ]
    missing = client.post("/api/v1/hooks/nope/test")
    assert (missing.status_code, missing.json()) == (
        404,
        {"detail": "unknown hook 'nope' (hooks: ops)"},
    )
    bad = client.get("/api/v1/deliveries", params={"status": "lost"})
    assert bad.json() == {
        "detail": "invalid status: unknown delivery status 'lost'; statuses are pending, delivered, failed, dead, superseded"
    }


def test_failed_test_notification_is_reported(
    db_url: str, engine: Engine, receiver: Receiver
) -> None:
    from tests.analytics.alerting.receiver import Answer

    receiver.script = [Answer(404, body="no such hook")]
    for stack in stack_for(db_url, engine, receiver):
        body = stack.client.post("/api/v1/hooks/ops/test").json()
        assert (body["status"], body["status_code"], body["error"]) == (
            "failed",
            404,
            "HTTP 404: no such hook",
        )


def test_silences_crud(firing: Stack) -> None:
    client = firing.client
    created = client.post(
        "/api/v1/silences",
        json={
            "matchers": [
                {"name": "tier", "value": "device"},
                {"name": "alertname", "op": "=~", "value": "high_.*"},
            ],
            "duration": "2h",
            "created_by": "ana",
            "comment": "rollout of 2.2.0",
        },
    )
    assert created.status_code == 201
    silence = created.json()
    assert {k: silence[k] for k in ("fleet", "matchers", "created_by", "comment", "active")} == {
        "fleet": None,
        "matchers": [
            {"name": "tier", "op": "=", "value": "device"},
            {"name": "alertname", "op": "=~", "value": "high_.*"},
        ],
        "created_by": "ana",
        "comment": "rollout of 2.2.0",
        "active": True,
    }
    sid = silence["id"]
    starts = datetime.fromisoformat(silence["starts_at"])
    ends = datetime.fromisoformat(silence["ends_at"])
    assert (ends - starts).total_seconds() == 7200
    assert [s["id"] for s in client.get("/api/v1/silences").json()["silences"]] == [sid]
    assert client.get(f"/api/v1/silences/{sid}").json() == silence
    changed = client.put(f"/api/v1/silences/{sid}", json={"comment": "rollout of 2.2.1"})
    assert changed.json()["comment"] == "rollout of 2.2.1"
    ended = client.delete(f"/api/v1/silences/{sid}")
    assert (ended.status_code, ended.json()["active"]) == (200, False)
    assert client.get("/api/v1/silences", params={"active": "true"}).json() == {"silences": []}
    assert client.delete("/api/v1/silences/999").status_code == 404
    assert client.put("/api/v1/silences/999", json={"comment": "x"}).status_code == 404


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        # a regular expression that does not compile
        (
            {"matchers": [{"name": "tier", "op": "=~", "value": "("}], "duration": "1h"},
            "invalid regular expression '(' for tier: missing ), unterminated subpattern at position 0",
        ),
        # an end and a duration
        (
            {
                "matchers": [{"name": "tier", "value": "device"}],
                "duration": "1h",
                "ends_at": "2030-01-01T00:00:00Z",
            },
            "give either ends_at or duration",
        ),
        # an end before the start
        (
            {"matchers": [{"name": "tier", "value": "device"}], "ends_at": "2020-01-01T00:00:00Z"},
            "a silence must end after it starts",
        ),
        # a silence wholly in the past
        (
            {
                "matchers": [{"name": "tier", "value": "device"}],
                "starts_at": "2019-01-01T00:00:00Z",
                "ends_at": "2020-01-01T00:00:00Z",
            },
            "a silence must end in the future",
        ),
        # an unknown operator
        (
            {"matchers": [{"name": "tier", "op": "~", "value": "x"}], "duration": "1h"},
            "invalid matcher operator '~'; use =, !=, =~ or !~",
        ),
        # a duration that is not one
        (
            {"matchers": [{"name": "tier", "value": "x"}], "duration": "soon"},
            "invalid duration: invalid duration 'soon': A duration must be a number with a unit: s, m, h, d or w (e.g. 90s, 15m, 1h30m, 7d).",
        ),
    ],
)
def test_bad_silences(plain: Stack, body: dict[str, object], detail: str) -> None:
    resp = plain.client.post("/api/v1/silences", json={**body, "created_by": "ana", "comment": "x"})
    assert (resp.status_code, resp.json()) == (400, {"detail": detail})


def test_roles_and_fleets(db_url: str, engine: Engine, receiver: Receiver) -> None:
    settings = make_settings(
        db_url,
        dev=False,
        **{
            "alerts.enabled": False,
            "alerts.rules": [ERRORS_RULE],
            "alerts.hooks": [{"name": "ops", "url": receiver.url, "secret": SECRET}],
        },
    )
    tokens = {
        name: create_token(engine, fleet=fleet, role=role)
        for name, fleet, role in (
            ("reader", "robots", "read"),
            ("other", "cameras", "read"),
            ("admin", "robots", "admin"),
            ("root", "*", "admin"),
        )
    }

    def auth(name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[name]}"}

    silence = {
        "matchers": [{"name": "tier", "value": "device"}],
        "duration": "1h",
        "created_by": "x",
        "comment": "y",
    }
    with TestClient(create_app(settings, engine=engine, migrate=False)) as client:
        # reading needs a token
        assert client.get("/api/v1/alerts").status_code == 401
        assert client.get("/api/v1/alerts", headers=auth("reader")).status_code == 200
        # changing alerting needs an admin token
        denied = client.post("/api/v1/silences", json=silence, headers=auth("reader"))
        assert (denied.status_code, denied.json()) == (
            403,
            {"detail": "this token's role may not change alerting; use an admin token"},
        )
        assert client.post("/api/v1/hooks/ops/test", headers=auth("reader")).status_code == 403
        # a fleet's admin silences its own fleet only
        mine = client.post("/api/v1/silences", json=silence, headers=auth("admin")).json()
        assert mine["fleet"] == "robots"
        everyone = client.post("/api/v1/silences", json=silence, headers=auth("root")).json()
        assert everyone["fleet"] is None
        # another fleet sees the silences for every fleet, not robots' own
        seen = client.get("/api/v1/silences", headers=auth("other")).json()["silences"]
        assert [s["id"] for s in seen] == [everyone["id"]]
        # and may not read robots' alerts
        assert (
            client.get(
                "/api/v1/alerts", params={"fleet": "robots"}, headers=auth("other")
            ).status_code
            == 403
        )
        # robots' admin may not end the silence for everyone
        assert (
            client.delete(f"/api/v1/silences/{everyone['id']}", headers=auth("admin")).status_code
            == 404
        )


def test_openapi_documents_the_alerting_api(firing: Stack) -> None:
    spec = firing.client.get("/openapi.json").json()
    expected = {
        ("/api/v1/alerts", "get"): "AlertsResponse",
        ("/api/v1/alerts/history", "get"): "AlertHistoryResponse",
        ("/api/v1/alerts/{fingerprint}", "get"): "AlertDetail",
        ("/api/v1/deliveries", "get"): "DeliveriesResponse",
        ("/api/v1/silences", "get"): "SilencesResponse",
        ("/api/v1/silences", "post"): "SilenceModel",
        ("/api/v1/silences/{silence_id}", "put"): "SilenceModel",
        ("/api/v1/silences/{silence_id}", "delete"): "SilenceModel",
        ("/api/v1/hooks", "get"): "HooksResponse",
        ("/api/v1/hooks/{name}/test", "post"): "HookTestResult",
    }
    for (path, method), model in expected.items():
        operation = spec["paths"][path][method]
        ok = operation["responses"][
            "201" if method == "post" and path == "/api/v1/silences" else "200"
        ]
        assert (
            ok["content"]["application/json"]["schema"]["$ref"] == f"#/components/schemas/{model}"
        )
        assert operation["summary"]


def test_text_postgresql_cannot_store_is_refused(plain: Stack) -> None:
    client = plain.client
    # NUL in a fleet name
    resp = client.get("/api/v1/alerts", params={"fleet": "\x00"})
    assert (resp.status_code, resp.json()) == (
        400,
        {"detail": "invalid fleet: a fleet name cannot contain NUL characters"},
    )
    # NUL in a silence's text
    body = {
        "matchers": [{"name": "tier", "value": "x"}],
        "duration": "1h",
        "created_by": "a",
        "comment": "\x00",
    }
    resp = client.post("/api/v1/silences", json=body)
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["msg"] == "Value error, text cannot contain NUL characters"
    # a fingerprint is 16 hex digits
    assert client.get("/api/v1/alerts/not-a-fingerprint").status_code == 422


def test_hook_credentials_are_sent_and_never_shown(
    db_url: str,
    engine: Engine,
    receiver: Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token, tenant = "am-token-from-env", "tenant-from-env"
    monkeypatch.setenv("AM_TOKEN", token)
    monkeypatch.setenv("AM_TENANT", tenant)
    secret_file = tmp_path / "hook_secret"
    secret_file.write_text(SECRET + "\n")
    hooks = [
        {
            "name": "ops",
            "url": receiver.url + "/hook",
            "secret_file": str(secret_file),
            "headers": {"X-Scope-OrgID": "${AM_TENANT}"},
            "bearer_token": "${AM_TOKEN}",
        }
    ]
    for stack in stack_for(db_url, engine, receiver, **{"alerts.hooks": hooks}):
        client = stack.client
        listed = client.get("/api/v1/hooks")
        assert listed.json()["hooks"][0]["headers"] == ["Authorization", "X-Scope-OrgID"]
        assert listed.json()["hooks"][0]["signed"] is True
        result = client.post("/api/v1/hooks/ops/test")
        assert result.json()["status"] == "delivered"
        (seen,) = receiver.requests
        # the values reach the receiver, signed with the secret read from the file
        assert seen.headers["authorization"] == f"Bearer {token}"
        assert seen.headers["x-scope-orgid"] == tenant
        assert verify(SECRET, seen.headers, seen.body, now=int(seen.headers["webhook-timestamp"]))
        # and show nowhere in what the API answers, nor in the settings' repr
        answers = listed.text + result.text + client.get("/api/v1/deliveries").text
        for value in (token, tenant, SECRET):
            assert value not in answers
            assert value not in repr(stack.settings)
