"""Hooks reach public addresses only, unless alerts.allowed_hosts names the host, address or network.

The check is on the resolved address the connection is made to: a fake resolver
stands for DNS where a name must resolve somewhere in particular, and a real
loopback receiver shows where the connection really goes.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from analytics.alerting.config import AlertsSettings
from analytics.alerting.destinations import (
    HostPolicy,
    RefusedDestination,
    checked_addresses,
    special_kind,
)
from analytics.alerting.sender import Outcome, send
from analytics.alerting.service import hook_warnings
from tests.analytics.alerting.receiver import Receiver

HEADERS = {"webhook-id": "msg_1", "webhook-timestamp": "1"}


def resolver(*addresses: str) -> Callable[[str, int], list[str]]:
    """DNS that answers ``addresses`` for every name."""
    return lambda host, port: list(addresses)


def refusal(host: str, kind: str, shown: str | None = None) -> str:
    return (
        f"refused: hook host {shown or host} is a {kind} address; hooks reach only public "
        f'addresses unless alerts.allowed_hosts names the host, e.g. allowed_hosts = ["{host}"]'
    )


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        # cloud metadata
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        # carrier-grade NAT
        ("100.64.0.1", "non-public"),
        # loopback written as IPv4-mapped IPv6
        ("::ffff:127.0.0.1", "loopback"),
        # public
        ("93.184.216.34", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_special_kind(address: str, kind: str | None) -> None:
    import ipaddress

    assert special_kind(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize(
    ("url_host", "answers", "allowed", "error"),
    [
        # loopback, cloud metadata, private and IPv6 loopback literals are refused by default
        ("127.0.0.1", (), [], refusal("127.0.0.1", "loopback")),
        ("169.254.169.254", (), [], refusal("169.254.169.254", "link-local")),
        ("10.0.0.5", (), [], refusal("10.0.0.5", "private")),
        ("::1", (), [], refusal("::1", "loopback")),
        # a name that resolves to loopback is refused for its address
        (
            "localhost",
            ("127.0.0.1",),
            [],
            refusal("localhost", "loopback", "localhost (127.0.0.1)"),
        ),
        # one bad address among good ones refuses the host
        (
            "mixed.example.com",
            ("93.184.216.34", "10.0.0.7"),
            [],
            refusal("mixed.example.com", "private", "mixed.example.com (10.0.0.7)"),
        ),
        # public addresses need no entry
        ("hooks.example.com", ("93.184.216.34",), [], None),
        # an entry naming the host allows its private addresses
        ("localhost", ("127.0.0.1", "::1"), ["localhost"], None),
        ("127.0.0.1", (), ["127.0.0.1"], None),
        ("::1", (), ["::1"], None),
        ("10.0.0.5", (), ["10.0.0.0/8"], None),
        ("169.254.169.254", (), ["169.254.169.254"], None),
        # a name resolving into an allowed network
        ("am.internal", ("10.2.3.4",), ["10.0.0.0/8"], None),
        ("am.internal", ("10.2.3.4",), ["*.internal"], None),
        # an entry for another private host does not open this one
        (
            "am.internal",
            ("10.2.3.4",),
            ["other.internal"],
            "refused: hook host am.internal (10.2.3.4) is not in alerts.allowed_hosts",
        ),
    ],
)
def test_checked_addresses(
    url_host: str, answers: tuple[str, ...], allowed: list[str], error: str | None
) -> None:
    policy = HostPolicy.of(allowed)
    if error is None:
        expected = list(answers) or [url_host]
        assert checked_addresses(policy, url_host, 80, resolver=resolver(*answers)) == expected
    else:
        with pytest.raises(RefusedDestination) as info:
            checked_addresses(policy, url_host, 80, resolver=resolver(*answers))
        assert str(info.value) == error


def test_localhost_really_resolves_to_loopback_and_is_refused(receiver: Receiver) -> None:
    # the system resolver, no fake: localhost is refused without an entry ...
    url = f"http://localhost:{receiver.port}/hook"
    outcome = send(url, b"{}", HEADERS, timeout=2)
    assert (outcome.delivered, outcome.retryable) == (False, False)
    assert outcome.error is not None
    assert outcome.error.startswith("refused: hook host localhost (")
    assert " is a loopback address;" in outcome.error
    assert receiver.requests == []
    # ... and delivered with one (the receiver listens on 127.0.0.1 only)
    # (localhost may resolve to ::1 first: the sender then tries 127.0.0.1)
    allowed = send(url, b"{}", HEADERS, timeout=2, policy=HostPolicy.of(["localhost"]))
    assert allowed == Outcome(delivered=True, retryable=False, status_code=200)
    (seen,) = receiver.requests
    assert seen.headers["host"] == f"localhost:{receiver.port}"


def test_literal_addresses_are_refused_without_an_entry(receiver: Receiver) -> None:
    for host in ("127.0.0.1", "[::1]"):
        outcome = send(f"http://{host}:{receiver.port}/", b"{}", HEADERS, timeout=2)
        assert (outcome.delivered, outcome.retryable) == (False, False)
        assert outcome.error is not None and outcome.error.startswith(
            f"refused: hook host {host.strip('[]')} is a loopback address"
        )
    for host in ("169.254.169.254", "10.0.0.1"):
        # refused before any packet leaves: no time-out to wait for
        outcome = send(f"http://{host}/", b"{}", HEADERS, timeout=30)
        assert outcome.error is not None and outcome.error.startswith("refused: ")
    assert receiver.requests == []


def test_the_connection_goes_to_the_checked_address(receiver: Receiver) -> None:
    # DNS answers the receiver's loopback address for a public-looking name the
    # allow-list names; the request reaches that address, with the name as Host.
    connected: list[tuple[str, int]] = []
    original = socket.create_connection

    def spy(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        connected.append(address)
        return original(address, *args, **kwargs)  # type: ignore[arg-type]

    url = f"http://hooks.example.com:{receiver.port}/hook"
    policy = HostPolicy.of(["hooks.example.com"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket, "create_connection", spy)
        outcome = send(
            url, b"{}", HEADERS, timeout=2, policy=policy, resolver=resolver("127.0.0.1")
        )
    assert outcome == Outcome(delivered=True, retryable=False, status_code=200)
    assert connected == [("127.0.0.1", receiver.port)]
    (seen,) = receiver.requests
    assert seen.headers["host"] == f"hooks.example.com:{receiver.port}"


def test_a_rebinding_answer_is_never_connected_to() -> None:
    # the name is resolved once per attempt (a second question would raise here)
    # and every address of the answer is checked: one loopback address refuses it
    answers = iter([["93.184.216.34", "127.0.0.1"]])
    with pytest.raises(RefusedDestination):
        checked_addresses(
            HostPolicy(), "rebind.example.com", 80, resolver=lambda h, p: next(answers)
        )


def test_https_keeps_the_name_for_sni_and_certificate() -> None:
    from analytics.alerting.sender import PinnedHTTPSConnection, connection

    conn = connection("https://hooks.example.com:8443/x", "10.9.8.7", timeout=1)
    assert isinstance(conn, PinnedHTTPSConnection)
    # Host header and the TLS server name come from host; the socket goes to address
    assert (conn.host, conn.port, conn.address) == ("hooks.example.com", 8443, "10.9.8.7")
    assert conn.tls.check_hostname and conn.tls.verify_mode.name == "CERT_REQUIRED"


def test_start_up_warns_of_hooks_known_to_be_refused() -> None:
    alerts = AlertsSettings(
        hooks=[
            {"name": "local", "kind": "alertmanager", "url": "http://127.0.0.1:9093"},
            {"name": "named", "kind": "alertmanager", "url": "http://localhost:9093"},
            {"name": "public", "kind": "alertmanager", "url": "https://am.example.com"},
        ]
    )
    assert hook_warnings(alerts) == [
        "hook 'local' will not be delivered: " + refusal("127.0.0.1", "loopback"),
        "hook 'named' will not be delivered: "
        + refusal("localhost", "loopback", "localhost (127.0.0.1)"),
    ]
    allowed = AlertsSettings(allowed_hosts=["127.0.0.1", "localhost"], hooks=alerts.hooks[:2])
    assert hook_warnings(allowed) == []
