"""The send stage: one signed HTTP POST of a notification, and whether a failure may be retried.

A 2xx answer is a delivery. 408, 425, 429 and 5xx answers, time-outs and
connection failures are retryable (with the answer's ``Retry-After``, if any);
every other answer is not, redirects included: they are never followed, so an
allowed host cannot send a notification somewhere else. The sender does not wait
or retry; :mod:`analytics.alerting.retry` decides when to try again.
"""

from __future__ import annotations

import http.client
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from importlib.metadata import version
from urllib.parse import urlsplit

RETRYABLE_STATUS = frozenset({408, 425, 429}) | frozenset(range(500, 600))
#: Most of an answer's body kept as the delivery's last error.
ERROR_BODY_CHARS = 300
USER_AGENT = f"tierwatch/{version('tierwatch')}"


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to."""

    delivered: bool
    retryable: bool
    status_code: int | None = None
    retry_after: float | None = None
    error: str | None = None


def send(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float,
) -> Outcome:
    """POST ``body`` to ``url`` with ``headers``; never raises for network trouble."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            host, parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    all_headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **headers,
    }
    try:
        connection.request("POST", path, body=body, headers=all_headers)
        response = connection.getresponse()
        text = response.read(64 * 1024).decode("utf-8", "replace")
        status = response.status
        retry_after = parse_retry_after(response.getheader("Retry-After"), now=time.time())
        location = response.getheader("Location")
    except TimeoutError:
        return Outcome(delivered=False, retryable=True, error=f"timed out after {timeout:g}s")
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(delivered=False, retryable=True, error=f"connection failed: {_reason(exc)}")
    finally:
        connection.close()
    return classify(status, text, retry_after=retry_after, location=location)


def classify(
    status: int, text: str, *, retry_after: float | None = None, location: str | None = None
) -> Outcome:
    """The outcome of an HTTP answer (pure)."""
    if 200 <= status < 300:
        return Outcome(delivered=True, retryable=False, status_code=status)
    if 300 <= status < 400:
        error = f"HTTP {status}: redirect to {location or '(no Location)'} not followed"
    else:
        snippet = " ".join(text.split())[:ERROR_BODY_CHARS]
        error = f"HTTP {status}" + (f": {snippet}" if snippet else "")
    retryable = status in RETRYABLE_STATUS
    return Outcome(
        delivered=False,
        retryable=retryable,
        status_code=status,
        retry_after=retry_after if retryable else None,
        error=error,
    )


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), or ``None``."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(moment.timestamp() - now, 0.0)


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:ERROR_BODY_CHARS]
