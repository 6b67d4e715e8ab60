"""Hook URLs: schemes, hosts and the allow-list."""

from __future__ import annotations

import pytest

from analytics.alerting.urls import BadHookUrl, check_url, host_allowed


@pytest.mark.parametrize(
    ("url", "allowed", "message"),
    [
        # only http and https
        (
            "ftp://hooks.example.com/x",
            (),
            "hook URL 'ftp://hooks.example.com/x' must start with http:// or https://",
        ),
        # file URLs would read local files
        (
            "file:///etc/passwd",
            (),
            "hook URL 'file:///etc/passwd' must start with http:// or https://",
        ),
        # a host is needed
        ("http:///path", (), "hook URL 'http:///path' has no host"),
        # credentials belong in the secret, not the URL
        (
            "https://user:pw@hooks.example.com/",
            (),
            "hook URL 'https://user:pw@hooks.example.com/' must not carry credentials; use the hook's basic_auth or headers",
        ),
        # a bad port
        (
            "http://hooks.example.com:99999/",
            (),
            "hook URL 'http://hooks.example.com:99999/' is not a valid URL: Port out of range 0-65535",
        ),
        # an internal address when an allow-list is set
        (
            "http://169.254.169.254/latest",
            ("hooks.example.com",),
            "hook URL 'http://169.254.169.254/latest': host '169.254.169.254' is not in alerts.allowed_hosts (hooks.example.com)",
        ),
    ],
)
def test_refused(url: str, allowed: tuple[str, ...], message: str) -> None:
    with pytest.raises(BadHookUrl) as info:
        check_url(url, allowed)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("host", "allowed", "expected"),
    [
        # exact names, case-insensitive
        ("Hooks.Example.com", ["hooks.example.com"], True),
        # a wildcard takes subdomains
        ("a.b.example.com", ["*.example.com"], True),
        # but not the domain itself
        ("example.com", ["*.example.com"], False),
        # nor a look-alike suffix
        ("evilexample.com", ["*.example.com"], False),
        # other hosts are refused
        ("127.0.0.1", ["hooks.example.com"], False),
        # an IP address may be allowed explicitly
        ("127.0.0.1", ["127.0.0.1"], True),
    ],
)
def test_host_allowed(host: str, allowed: list[str], expected: bool) -> None:
    assert host_allowed(host, allowed) is expected


def test_accepted_urls_are_returned() -> None:
    assert check_url("https://hooks.example.com/a?b=1") == "https://hooks.example.com/a?b=1"
    assert check_url("http://127.0.0.1:9/x", ["127.0.0.1"]) == "http://127.0.0.1:9/x"
