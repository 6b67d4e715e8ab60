"""Outbox delivery against a real loopback receiver, on SQLite and PostgreSQL.

The clock is the test's, so backoff and Retry-After are checked to the
millisecond; the HTTP is real.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random

import pytest
from sqlalchemy import Engine

from analytics.alerting import outbox
from analytics.alerting.delivery import deliver_due
from analytics.alerting.signing import verify
from tests.analytics.alerting.conftest import SECRET, Clock
from tests.analytics.alerting.helpers import add_alert, alerts_settings, delivery, enqueue
from tests.analytics.alerting.receiver import HANG, Answer, Receiver


def run(engine: Engine, settings: object, clock: Clock, holder: str = "server-a") -> list[str]:
    """One delivery pass; the statuses it recorded."""
    attempted = deliver_due(engine, settings, holder=holder, clock=clock, rng=random.Random(1))
    return [a.status for a in attempted]


def test_two_503_then_200_is_one_accepted_delivery(
    engine: Engine, receiver: Receiver, clock: Clock
) -> None:
    receiver.script = [Answer(503), Answer(503), Answer(200)]
    settings = alerts_settings(receiver.url + "/hook")
    delivery_id = enqueue(engine, now=clock(), body={"hello": "world"})
    assert run(engine, settings, clock) == ["pending"]
    # not due again before its backoff
    assert run(engine, settings, clock) == []
    clock.advance(1.0)
    assert run(engine, settings, clock) == ["pending"]
    clock.advance(2.0)
    assert run(engine, settings, clock) == ["delivered"]
    assert run(engine, settings, clock.advance(60)) == []
    requests = receiver.requests
    assert len(requests) == 3
    # the same webhook-id on every attempt, one accepted
    assert {r.webhook_id for r in requests} == {"msg_1735819200000_firing_None"}
    assert [r.webhook_id for r in receiver.accepted()] == ["msg_1735819200000_firing_None"]
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    for r in requests:
        timestamp = int(r.headers["webhook-timestamp"])
        assert verify(SECRET, r.headers, r.body, now=timestamp) == r.webhook_id
        signed = f"{r.webhook_id}.{timestamp}.".encode() + r.body
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        assert r.headers["webhook-signature"] == f"v1,{expected}"
        assert json.loads(r.body) == {"hello": "world"}
    row = delivery(engine, delivery_id)
    assert (row["status"], row["attempts"], row["last_status_code"], row["last_error"]) == (
        "delivered",
        3,
        200,
        None,
    )
    assert row["delivered_at"] == clock.now - 60_000
    assert (row["claimed_by"], row["claimed_until"]) == (None, None)


@pytest.mark.parametrize("status", [400, 401, 404, 410])
def test_other_4xx_are_not_retried(
    engine: Engine, receiver: Receiver, clock: Clock, status: int
) -> None:
    receiver.script = [Answer(status, body="nope")]
    settings = alerts_settings(receiver.url)
    delivery_id = enqueue(engine, now=clock())
    assert run(engine, settings, clock) == ["failed"]
    assert run(engine, settings, clock.advance(3600)) == []
    assert len(receiver.requests) == 1
    row = delivery(engine, delivery_id)
    assert (row["status"], row["attempts"], row["last_status_code"], row["last_error"]) == (
        "failed",
        1,
        status,
        f"HTTP {status}: nope",
    )


def test_retry_after_is_honoured(engine: Engine, receiver: Receiver, clock: Clock) -> None:
    receiver.script = [Answer(429, {"Retry-After": "120"}), Answer(200)]
    settings = alerts_settings(receiver.url)
    start = clock()
    delivery_id = enqueue(engine, now=start)
    assert run(engine, settings, clock) == ["pending"]
    assert delivery(engine, delivery_id)["next_attempt_at"] == start + 120_000
    # a backoff of about a second would retry now; Retry-After says wait
    assert run(engine, settings, clock.advance(119.999)) == []
    assert run(engine, settings, clock.advance(0.001)) == ["delivered"]
    assert [r.answered for r in receiver.requests] == [429, 200]


def test_timeouts_are_retried(engine: Engine, receiver: Receiver, clock: Clock) -> None:
    receiver.script = [HANG, Answer(200)]
    settings = alerts_settings(receiver.url)
    settings.hooks[0].timeout_seconds = 0.3
    delivery_id = enqueue(engine, now=clock())
    assert run(engine, settings, clock) == ["pending"]
    assert delivery(engine, delivery_id)["last_error"] == "timed out after 0.3s"
    receiver.release.set()
    assert run(engine, settings, clock.advance(1.0)) == ["delivered"]
    assert [r.webhook_id for r in receiver.accepted()] == [receiver.requests[0].webhook_id]


def test_dead_after_max_age(engine: Engine, receiver: Receiver, clock: Clock) -> None:
    receiver.script = [Answer(503, body="down")]
    settings = alerts_settings(receiver.url, max_age="10s")
    start = clock()
    delivery_id = enqueue(engine, now=start)
    statuses: list[str] = []
    for _ in range(10):
        statuses += run(engine, settings, clock)
        row = delivery(engine, delivery_id)
        if row["status"] != "pending":
            break
        # the next pass runs exactly when the retry is due
        clock.now = row["next_attempt_at"]
    # waits of 1, 2, 4 and 8 s, jittered (seeded: 0.57, 1.13, 2.27, 4.54 s), add up to
    # 8.5 s; the next (about 9 s) would fall after the 10 s maximum age
    assert statuses == ["pending", "pending", "pending", "pending", "dead"]
    row = delivery(engine, delivery_id)
    assert (row["status"], row["attempts"], row["last_error"]) == ("dead", 5, "HTTP 503: down")
    assert clock() - start <= 10_000
    assert len(receiver.requests) == 5


def test_not_sent_when_already_too_old(engine: Engine, receiver: Receiver, clock: Clock) -> None:
    # e.g. every server was down longer than the maximum age
    settings = alerts_settings(receiver.url, max_age="1m")
    delivery_id = enqueue(engine, now=clock())
    assert run(engine, settings, clock.advance(61)) == ["dead"]
    assert receiver.requests == []
    assert delivery(engine, delivery_id)["last_error"] == "not sent within alerts.max_age"


@pytest.mark.parametrize(
    ("overrides", "hook", "error"),
    [
        # the hook was removed from the configuration
        ({}, "gone", "hook 'gone' is no longer configured"),
        # the allow-list changed since the hook was configured
        (
            {"allowed_hosts": ["hooks.example.com"]},
            "ops",
            "host '127.0.0.1' is not in alerts.allowed_hosts (hooks.example.com)",
        ),
    ],
)
def test_unsendable_notifications_fail(
    engine: Engine,
    receiver: Receiver,
    clock: Clock,
    overrides: dict[str, object],
    hook: str,
    error: str,
) -> None:
    settings = alerts_settings(receiver.url)
    settings = settings.model_copy(update=overrides)
    delivery_id = enqueue(engine, now=clock(), hook=hook)
    assert run(engine, settings, clock) == ["failed"]
    assert receiver.requests == []
    last_error = delivery(engine, delivery_id)["last_error"]
    assert last_error is not None and last_error.endswith(error)


def test_one_alert_one_hook_in_order(engine: Engine, receiver: Receiver, clock: Clock) -> None:
    receiver.script = [Answer(503), Answer(200)]
    # one at a time, so that the receiver's script meets the rows in a known order
    settings = alerts_settings(receiver.url, delivery_concurrency=1)
    add_alert(engine, "aaaaaaaaaaaaaaaa", now=clock())
    add_alert(engine, "bbbbbbbbbbbbbbbb", now=clock())
    enqueue(engine, now=clock(), event="firing", fingerprint="aaaaaaaaaaaaaaaa")
    enqueue(engine, now=clock(), event="resolved", fingerprint="aaaaaaaaaaaaaaaa")
    enqueue(engine, now=clock(), event="firing", fingerprint="bbbbbbbbbbbbbbbb")
    assert run(engine, settings, clock) == ["pending"]
    # A's resolution waits behind A's firing; B goes ahead
    assert run(engine, settings, clock) == ["delivered"]
    assert run(engine, settings, clock) == []
    assert run(engine, settings, clock.advance(2)) == ["delivered"]
    assert run(engine, settings, clock) == ["delivered"]
    order = [
        (json.loads(r.body)["fingerprint"], json.loads(r.body)["event"]) for r in receiver.requests
    ]
    assert order == [
        ("aaaaaaaaaaaaaaaa", "firing"),
        ("bbbbbbbbbbbbbbbb", "firing"),
        ("aaaaaaaaaaaaaaaa", "firing"),
        ("aaaaaaaaaaaaaaaa", "resolved"),
    ]


def test_claims_are_exclusive_and_fence_the_record(engine: Engine, clock: Clock) -> None:
    ids = [enqueue(engine, now=clock(), webhook_id=f"msg_{i}") for i in range(6)]
    first = outbox.claim(engine, holder="a", now=clock(), claim_ms=5000, limit=4)
    second = outbox.claim(engine, holder="b", now=clock(), claim_ms=5000, limit=4)
    assert [c.id for c in first] == ids[:4]
    assert [c.id for c in second] == ids[4:]
    assert [c.attempts for c in first + second] == [1] * 6
    # nothing is left to claim until the claims expire
    assert outbox.claim(engine, holder="c", now=clock() + 5000, claim_ms=5000, limit=10) == []
    taken = outbox.claim(engine, holder="c", now=clock() + 5001, claim_ms=5000, limit=10)
    assert [c.id for c in taken] == ids
    assert [c.attempts for c in taken] == [2] * 6
    # a's claim was lost: its late outcome is not written
    assert (
        outbox.record(
            engine,
            delivery_id=ids[0],
            holder="a",
            status="delivered",
            now=clock(),
            status_code=200,
            error=None,
        )
        is False
    )
    assert delivery(engine, ids[0])["status"] == "pending"
    assert (
        outbox.record(
            engine,
            delivery_id=ids[0],
            holder="c",
            status="delivered",
            now=clock(),
            status_code=200,
            error=None,
        )
        is True
    )
    assert delivery(engine, ids[0])["status"] == "delivered"
