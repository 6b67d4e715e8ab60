"""The send stage: one signed HTTP POST of a notification, and whether a failure may be retried.

The host is resolved once and every address checked against the hooks' host
policy (:mod:`analytics.alerting.destinations`); the connection then goes to a
checked address, pinned, while the ``Host`` header, TLS SNI and certificate
verification still use the name. A refused destination is a permanent failure.

A 2xx answer is a delivery. 408, 425, 429 and 5xx answers, time-outs and
connection failures are retryable (with the answer's ``Retry-After``, if any);
every other answer is not, redirects included: they are never followed, so an
allowed host cannot send a notification somewhere else. The sender does not wait
or retry; :mod:`analytics.alerting.retry` decides when to try again.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from importlib.metadata import version
from urllib.parse import urlsplit

from analytics.alerting.destinations import (
    HostPolicy,
    RefusedDestination,
    Resolve,
    checked_addresses,
    resolve,
)

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


class PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to ``host`` made to one address checked beforehand."""

    def __init__(self, host: str, port: int | None, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to one checked address; SNI and the certificate check use ``host``."""

    def __init__(
        self, host: str, port: int | None, *, address: str, timeout: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self.address = address
        self.tls = context

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


def connection(url: str, address: str, *, timeout: float) -> http.client.HTTPConnection:
    """A connection for ``url`` pinned to ``address``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https":
        return PinnedHTTPSConnection(
            host, parts.port, address=address, timeout=timeout, context=ssl.create_default_context()
        )
    return PinnedHTTPConnection(host, parts.port, address=address, timeout=timeout)


def send(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float,
    policy: HostPolicy | None = None,
    resolver: Resolve = resolve,
) -> Outcome:
    """POST ``body`` to ``url`` with ``headers``; never raises for network trouble.

    ``policy`` decides which addresses may be reached (default: public ones only).
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = checked_addresses(policy or HostPolicy(), host, port, resolver=resolver)
    except RefusedDestination as exc:
        return Outcome(delivered=False, retryable=False, error=str(exc))
    except OSError as exc:
        error = f"cannot resolve {host}: {_reason(exc)}"
        return Outcome(delivered=False, retryable=True, error=error)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    all_headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **headers,
    }
    failure = Outcome(delivered=False, retryable=True, error="no address")
    for address in addresses:
        conn = connection(url, address, timeout=timeout)
        try:
            conn.connect()
        except TimeoutError:
            failure = Outcome(
                delivered=False, retryable=True, error=f"timed out after {timeout:g}s"
            )
            conn.close()
            continue
        except OSError as exc:
            # Try the next checked address, as a client does with several A/AAAA records.
            failure = Outcome(
                delivered=False, retryable=True, error=f"connection failed: {_reason(exc)}"
            )
            conn.close()
            continue
        return _post(conn, path, body, all_headers, timeout=timeout)
    return failure


def _post(
    conn: http.client.HTTPConnection,
    path: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float,
) -> Outcome:
    try:
        conn.request("POST", path, body=body, headers=dict(headers))
        response = conn.getresponse()
        text = response.read(64 * 1024).decode("utf-8", "replace")
        status = response.status
        retry_after = parse_retry_after(response.getheader("Retry-After"), now=time.time())
        location = response.getheader("Location")
    except TimeoutError:
        return Outcome(delivered=False, retryable=True, error=f"timed out after {timeout:g}s")
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(delivered=False, retryable=True, error=f"connection failed: {_reason(exc)}")
    finally:
        conn.close()
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
