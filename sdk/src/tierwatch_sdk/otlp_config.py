"""Where and how to send spans: constructor arguments, else the standard OTLP variables.

The variables are read as the OpenTelemetry specification documents them
("OTLP Exporter Configuration"); a variable set to the empty string counts as
unset, a signal-specific variable (``..._TRACES_...``) wins over the general
one, and an argument given to the exporter wins over both:

- ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is the traces URL, used as given;
  ``OTEL_EXPORTER_OTLP_ENDPOINT`` is a base URL to which ``/v1/traces`` is
  appended; without either, ``http://localhost:4318/v1/traces``.
- ``OTEL_EXPORTER_OTLP_(TRACES_)HEADERS``: comma-separated ``key=value`` pairs,
  values URL-encoded (``Authorization=Bearer%20<token>``). They are parsed by
  OpenTelemetry's own ``parse_env_headers``, as its OTLP exporters do.
- ``OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT``: milliseconds, as the specification
  says (OpenTelemetry Python's exporters read seconds here; see
  opentelemetry-python#4044). The ``timeout`` argument is in seconds, like
  ``OTLPSpanExporter``'s.
- ``OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION``: ``gzip`` or ``none``. Without
  one, ``gzip``: the specification leaves the default to each SDK and names
  devices sending straight to a backend as the case for compressing.
- ``OTEL_EXPORTER_OTLP_(TRACES_)CERTIFICATE``, ``..._CLIENT_CERTIFICATE`` and
  ``..._CLIENT_KEY``: TLS files, for a private CA and client certificates.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.sdk.environment_variables import (
    OTEL_EXPORTER_OTLP_CERTIFICATE,
    OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE,
    OTEL_EXPORTER_OTLP_CLIENT_KEY,
    OTEL_EXPORTER_OTLP_COMPRESSION,
    OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_HEADERS,
    OTEL_EXPORTER_OTLP_TIMEOUT,
    OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE,
    OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE,
    OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY,
    OTEL_EXPORTER_OTLP_TRACES_COMPRESSION,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    OTEL_EXPORTER_OTLP_TRACES_HEADERS,
    OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
)
from opentelemetry.util.re import parse_env_headers

log = logging.getLogger(__name__)

DEFAULT_BASE_ENDPOINT = "http://localhost:4318"
TRACES_PATH = "/v1/traces"
DEFAULT_ENDPOINT = DEFAULT_BASE_ENDPOINT + TRACES_PATH
DEFAULT_TIMEOUT = 10.0
DEFAULT_COMPRESSION = "gzip"
_COMPRESSIONS = {
    "gzip": "gzip",
    "none": "none",
    Compression.Gzip: "gzip",
    Compression.NoCompression: "none",
}


@dataclass(frozen=True)
class OTLPConfig:
    """The resolved OTLP/HTTP settings of one exporter."""

    #: The full traces URL.
    endpoint: str = DEFAULT_ENDPOINT
    #: Sent with every request, e.g. ``{"authorization": "Bearer <token>"}``.
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Seconds to wait for one answer.
    timeout: float = DEFAULT_TIMEOUT
    #: ``gzip`` or ``none``.
    compression: str = DEFAULT_COMPRESSION
    #: A CA bundle to verify the receiver with, or True for the system's.
    verify: str | bool = True
    #: A client certificate file, or (certificate, key) files.
    client_certificate: str | tuple[str, str] | None = None


def resolve(
    *,
    endpoint: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
    compression: str | Compression | None = None,
    environ: Mapping[str, str] | None = None,
) -> OTLPConfig:
    """The settings from the arguments given, else the variables, else the defaults."""
    env = os.environ if environ is None else environ

    def variable(traces_name: str, general_name: str) -> str | None:
        return env.get(traces_name) or env.get(general_name) or None

    if endpoint is None:
        endpoint = env.get(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or None
    if endpoint is None:
        base = env.get(OTEL_EXPORTER_OTLP_ENDPOINT) or DEFAULT_BASE_ENDPOINT
        endpoint = base.removesuffix("/") + TRACES_PATH

    if headers is None:
        pairs = variable(OTEL_EXPORTER_OTLP_TRACES_HEADERS, OTEL_EXPORTER_OTLP_HEADERS) or ""
        headers = dict(parse_env_headers(pairs, liberal=True))

    if timeout is None:
        text = variable(OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, OTEL_EXPORTER_OTLP_TIMEOUT)
        timeout = DEFAULT_TIMEOUT if text is None else _milliseconds(text)

    chosen: str | None
    if compression is None:
        text = variable(OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, OTEL_EXPORTER_OTLP_COMPRESSION)
        chosen = DEFAULT_COMPRESSION if text is None else _COMPRESSIONS.get(text.strip().lower())
        if chosen is None:
            log.warning("unsupported OTLP compression %r (gzip or none); using gzip", text)
            chosen = DEFAULT_COMPRESSION
    else:
        key = compression.lower() if isinstance(compression, str) else compression
        if key not in _COMPRESSIONS:
            raise ValueError(f"compression must be gzip or none; got {compression!r}")
        chosen = _COMPRESSIONS[key]

    certificate = variable(OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE, OTEL_EXPORTER_OTLP_CERTIFICATE)
    client_certificate = variable(
        OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE
    )
    client_key = variable(OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY, OTEL_EXPORTER_OTLP_CLIENT_KEY)
    return OTLPConfig(
        endpoint=endpoint,
        headers=dict(headers),
        timeout=timeout,
        compression=chosen,
        verify=certificate or True,
        client_certificate=(
            (client_certificate, client_key)
            if client_certificate and client_key
            else client_certificate
        ),
    )


def _milliseconds(text: str) -> float:
    """Seconds from a timeout variable's milliseconds; the default when it is not a number."""
    try:
        value = float(text) / 1000
    except ValueError:
        value = -1.0
    if not value > 0:
        log.warning("invalid OTLP timeout %r (milliseconds); using %g s", text, DEFAULT_TIMEOUT)
        return DEFAULT_TIMEOUT
    return value
