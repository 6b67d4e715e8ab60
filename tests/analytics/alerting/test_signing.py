"""Standard Webhooks signatures: the specification's vector, round trips and refusals."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from analytics.alerting.signing import (
    BadSecret,
    BadSignature,
    generate_secret,
    secret_key,
    signature,
    signed_headers,
    verify,
)
from tests.analytics.alerting.conftest import SECRET

MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'


def test_specification_vector() -> None:
    # the example of the Standard Webhooks specification
    assert (
        signature(SECRET, MSG_ID, TIMESTAMP, BODY)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_signature_is_hmac_sha256_of_id_timestamp_body() -> None:
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    digest = hmac.new(key, f"{MSG_ID}.{TIMESTAMP}.".encode() + BODY, hashlib.sha256).digest()
    assert signature(SECRET, MSG_ID, TIMESTAMP, BODY) == "v1," + base64.b64encode(digest).decode()


def test_signed_headers_round_trip() -> None:
    headers = signed_headers(SECRET, MSG_ID, TIMESTAMP, BODY)
    assert sorted(headers) == ["webhook-id", "webhook-signature", "webhook-timestamp"]
    assert verify(SECRET, headers, BODY, now=TIMESTAMP + 10) == MSG_ID
    # header names are case-insensitive
    upper = {k.title(): v for k, v in headers.items()}
    assert verify(SECRET, upper, BODY, now=TIMESTAMP) == MSG_ID


def test_unsigned_headers_without_secret() -> None:
    assert signed_headers(None, MSG_ID, TIMESTAMP, BODY) == {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(TIMESTAMP),
    }


def test_any_of_several_signatures_verifies() -> None:
    # a sender rotating secrets sends one signature per secret, space-separated
    other = signature(generate_secret(), MSG_ID, TIMESTAMP, BODY)
    good = signature(SECRET, MSG_ID, TIMESTAMP, BODY)
    headers = {"webhook-id": MSG_ID, "webhook-timestamp": str(TIMESTAMP)}
    headers["webhook-signature"] = f"{other} {good}"
    assert verify(SECRET, headers, BODY, now=TIMESTAMP) == MSG_ID


GOOD = signed_headers(SECRET, MSG_ID, TIMESTAMP, BODY)


@pytest.mark.parametrize(
    ("headers", "body", "now", "message"),
    [
        # the body was changed
        (GOOD, b'{"test": 1}', TIMESTAMP, "no signature matches the secret"),
        # the id was changed
        ({**GOOD, "webhook-id": "msg_other"}, BODY, TIMESTAMP, "no signature matches the secret"),
        # a replay long after the fact
        (GOOD, BODY, TIMESTAMP + 301, "webhook-timestamp 1614265330 is more than 300s from now"),
        # a timestamp from the future
        (GOOD, BODY, TIMESTAMP - 301, "webhook-timestamp 1614265330 is more than 300s from now"),
        # no signature at all
        (
            {"webhook-id": MSG_ID, "webhook-timestamp": "1"},
            BODY,
            1,
            "missing header webhook-signature",
        ),
        # a timestamp that is not a number
        (
            {**GOOD, "webhook-timestamp": "soon"},
            BODY,
            TIMESTAMP,
            "invalid webhook-timestamp 'soon'",
        ),
    ],
)
def test_refusals(headers: dict[str, str], body: bytes, now: int, message: str) -> None:
    with pytest.raises(BadSignature) as info:
        verify(SECRET, headers, body, now=now)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        # no prefix
        (
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "the secret must start with 'whsec_': A signing secret must be whsec_ followed by base64 of 24 to 64 bytes.",
        ),
        # not base64
        ("whsec_not*base64", "the secret is not valid base64 after 'whsec_'"),
        # too short to be safe
        (
            "whsec_" + base64.b64encode(b"short").decode(),
            "the secret holds 5 bytes: A signing secret must be whsec_ followed by base64 of 24 to 64 bytes.",
        ),
    ],
)
def test_bad_secrets(secret: str, message: str) -> None:
    with pytest.raises(BadSecret) as info:
        secret_key(secret)
    assert str(info.value) == message


def test_generated_secrets_are_valid_and_distinct() -> None:
    first, second = generate_secret(), generate_secret()
    assert first != second
    assert len(secret_key(first)) == 32
