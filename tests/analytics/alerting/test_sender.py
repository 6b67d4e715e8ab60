"""The send stage against a real loopback receiver: what is delivered, what may be retried."""

from __future__ import annotations

import pytest

from analytics.alerting.destinations import HostPolicy
from analytics.alerting.sender import Outcome, classify, parse_retry_after, send
from tests.analytics.alerting.receiver import HANG, Answer, Receiver
from tests.conftest import free_port

HEADERS = {"webhook-id": "msg_1", "webhook-timestamp": "1", "webhook-signature": "v1,x"}
#: The receivers listen on loopback, which hooks reach only when allowed.
LOOPBACK = HostPolicy.of(["127.0.0.1"])


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        # a 2xx is a delivery
        (Answer(200), Outcome(delivered=True, retryable=False, status_code=200)),
        (Answer(204, body=""), Outcome(delivered=True, retryable=False, status_code=204)),
        # 5xx is retryable
        (
            Answer(503, body="busy"),
            Outcome(delivered=False, retryable=True, status_code=503, error="HTTP 503: busy"),
        ),
        # 429 is retryable, with its Retry-After
        (
            Answer(429, {"Retry-After": "7"}, "slow down"),
            Outcome(
                delivered=False,
                retryable=True,
                status_code=429,
                retry_after=7.0,
                error="HTTP 429: slow down",
            ),
        ),
        # other 4xx are not
        (
            Answer(404, body="no such hook"),
            Outcome(
                delivered=False, retryable=False, status_code=404, error="HTTP 404: no such hook"
            ),
        ),
        (
            Answer(400, {"Retry-After": "7"}, "bad"),
            Outcome(delivered=False, retryable=False, status_code=400, error="HTTP 400: bad"),
        ),
        # redirects are not followed
        (
            Answer(302, {"Location": "http://10.0.0.1/"}, ""),
            Outcome(
                delivered=False,
                retryable=False,
                status_code=302,
                error="HTTP 302: redirect to http://10.0.0.1/ not followed",
            ),
        ),
    ],
)
def test_answers(receiver: Receiver, answer: Answer, expected: Outcome) -> None:
    receiver.script = [answer]
    outcome = send(receiver.url + "/hook?x=1", b'{"a":1}', HEADERS, timeout=5, policy=LOOPBACK)
    assert outcome == expected
    (seen,) = receiver.requests
    assert (seen.path, seen.body) == ("/hook?x=1", b'{"a":1}')
    assert seen.headers["content-type"] == "application/json"
    assert {k: seen.headers[k] for k in HEADERS} == HEADERS


def test_timeout_is_retryable(receiver: Receiver) -> None:
    receiver.script = [HANG]
    outcome = send(receiver.url, b"{}", HEADERS, timeout=0.3, policy=LOOPBACK)
    assert outcome == Outcome(delivered=False, retryable=True, error="timed out after 0.3s")


def test_connection_refused_is_retryable() -> None:
    outcome = send(f"http://127.0.0.1:{free_port()}/", b"{}", HEADERS, timeout=2, policy=LOOPBACK)
    assert outcome.retryable and not outcome.delivered and outcome.status_code is None
    assert outcome.error is not None and outcome.error.startswith("connection failed: ")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # seconds
        ("120", 120.0),
        # an HTTP date, relative to now
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        # a date in the past means now
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        # absent or unreadable
        (None, None),
        ("soon", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=1445412480.0) == expected


def test_long_error_bodies_are_cut() -> None:
    outcome = classify(500, "x" * 1000)
    assert outcome.error == "HTTP 500: " + "x" * 300
