"""The exporter's settings from arguments and the standard OTEL_EXPORTER_OTLP_* variables."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http import Compression

from tierwatch_sdk.otlp_config import OTLPConfig, resolve


@pytest.mark.parametrize(
    ("environ", "arguments", "expected"),
    [
        # nothing set: the spec's default, gzip for senders on devices
        ({}, {}, OTLPConfig()),
        # the base URL gets /v1/traces, with or without a trailing slash, under a path too
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://tw:4318"},
            {},
            OTLPConfig(endpoint="http://tw:4318/v1/traces"),
        ),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "https://tw.example.com/otlp/"},
            {},
            OTLPConfig(endpoint="https://tw.example.com/otlp/v1/traces"),
        ),
        # the traces URL is used as given, and wins over the base
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://tw:4318",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://tw:9999/custom",
            },
            {},
            OTLPConfig(endpoint="http://tw:9999/custom"),
        ),
        # an empty variable counts as unset
        (
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://tw"},
            {},
            OTLPConfig(endpoint="http://tw/v1/traces"),
        ),
        # headers: url-decoded key=value pairs, keys lower-cased; the traces variable wins
        (
            {"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20tw_1,x-tenant=a%2Cb"},
            {},
            OTLPConfig(headers={"authorization": "Bearer tw_1", "x-tenant": "a,b"}),
        ),
        (
            {
                "OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20general",
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "Authorization=Bearer%20traces",
            },
            {},
            OTLPConfig(headers={"authorization": "Bearer traces"}),
        ),
        # timeout variables are milliseconds, as the spec says
        ({"OTEL_EXPORTER_OTLP_TIMEOUT": "2500"}, {}, OTLPConfig(timeout=2.5)),
        (
            {"OTEL_EXPORTER_OTLP_TIMEOUT": "2500", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "500"},
            {},
            OTLPConfig(timeout=0.5),
        ),
        # a timeout that is not a positive number: the default, with a warning
        ({"OTEL_EXPORTER_OTLP_TIMEOUT": "soon"}, {}, OTLPConfig(timeout=10.0)),
        # compression gzip or none, in any case; anything else: gzip, with a warning
        ({"OTEL_EXPORTER_OTLP_COMPRESSION": "None"}, {}, OTLPConfig(compression="none")),
        ({"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "gzip"}, {}, OTLPConfig(compression="gzip")),
        ({"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}, {}, OTLPConfig(compression="gzip")),
        # TLS files
        (
            {
                "OTEL_EXPORTER_OTLP_CERTIFICATE": "/ca.pem",
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": "/client.pem",
                "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY": "/client.key",
            },
            {},
            OTLPConfig(verify="/ca.pem", client_certificate=("/client.pem", "/client.key")),
        ),
        # arguments win over every variable; given headers replace the variable's
        (
            {
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://env/v1/traces",
                "OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20env,x-extra=1",
                "OTEL_EXPORTER_OTLP_TIMEOUT": "1000",
                "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
            },
            {
                "endpoint": "http://arg/v1/traces",
                "headers": {"Authorization": "Bearer arg"},
                "timeout": 3.0,
                "compression": Compression.NoCompression,
            },
            OTLPConfig(
                endpoint="http://arg/v1/traces",
                headers={"Authorization": "Bearer arg"},
                timeout=3.0,
                compression="none",
            ),
        ),
    ],
)
def test_resolve(environ: dict[str, str], arguments: dict[str, Any], expected: OTLPConfig) -> None:
    assert resolve(environ=environ, **arguments) == expected


def test_an_unsupported_compression_argument_is_an_error() -> None:
    with pytest.raises(ValueError, match="compression must be gzip or none; got 'deflate'"):
        resolve(compression="deflate", environ={})
