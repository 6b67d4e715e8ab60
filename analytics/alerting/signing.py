"""Standard Webhooks signatures: sign what is sent, verify what is received.

Following https://www.standardwebhooks.com: the secret is ``whsec_`` followed by
base64 of 24 to 64 random bytes; every request carries ``webhook-id`` (the same on
every attempt of one notification, so receivers de-duplicate by it),
``webhook-timestamp`` (Unix seconds of the attempt) and ``webhook-signature``,
``v1,`` followed by base64 of HMAC-SHA256 over ``{id}.{timestamp}.{body}``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Mapping

SECRET_PREFIX = "whsec_"
#: Receivers refuse timestamps further than this from their clock (replay protection).
DEFAULT_TOLERANCE_SECONDS = 300


class BadSecret(ValueError):
    """A signing secret must be whsec_ followed by base64 of 24 to 64 bytes."""


class BadSignature(ValueError):
    """The request is not signed by the expected secret, or is too old or too new."""


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a ``whsec_`` secret."""
    if not secret.startswith(SECRET_PREFIX):
        raise BadSecret(f"the secret must start with {SECRET_PREFIX!r}: {BadSecret.__doc__}")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise BadSecret(f"the secret is not valid base64 after {SECRET_PREFIX!r}") from None
    if not 24 <= len(key) <= 64:
        raise BadSecret(f"the secret holds {len(key)} bytes: {BadSecret.__doc__}")
    return key


def generate_secret() -> str:
    """A new random secret (32 bytes) in ``whsec_`` form."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def new_webhook_id() -> str:
    """A new, unique ``webhook-id``."""
    return f"msg_{uuid.uuid4().hex}"


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,`` and base64 HMAC-SHA256 of id, timestamp, body."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(
    secret: str | None, webhook_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers (no signature when there is no secret)."""
    headers = {"webhook-id": webhook_id, "webhook-timestamp": str(timestamp)}
    if secret:
        headers["webhook-signature"] = signature(secret, webhook_id, timestamp, body)
    return headers


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> str:
    """Check a received request's signature and timestamp; return its ``webhook-id``.

    ``headers`` are looked up case-insensitively. Raises :class:`BadSignature`.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        webhook_id = lowered["webhook-id"]
        stamp = lowered["webhook-timestamp"]
        given = lowered["webhook-signature"]
    except KeyError as exc:
        raise BadSignature(f"missing header {exc.args[0]}") from None
    try:
        timestamp = int(stamp)
    except ValueError:
        raise BadSignature(f"invalid webhook-timestamp {stamp!r}") from None
    if abs(now - timestamp) > tolerance:
        raise BadSignature(f"webhook-timestamp {timestamp} is more than {tolerance}s from now")
    expected = signature(secret, webhook_id, timestamp, body).encode()
    # Several space-separated signatures may be sent (e.g. while a secret is rotated).
    for candidate in given.split():
        if hmac.compare_digest(candidate.encode(), expected):
            return webhook_id
    raise BadSignature("no signature matches the secret")
