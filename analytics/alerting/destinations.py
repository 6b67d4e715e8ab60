"""Where a hook may connect: every resolved address checked against the allow-list.

A hook URL is chosen by whoever writes the configuration, and the server runs
inside the operator's network, so a hook must not become a way to reach what
only the server can reach (cloud metadata at 169.254.169.254, an admin port on
loopback, a database on a private network). By default hooks reach public
addresses only: loopback, link-local, private (RFC 1918, fc00::/7), shared
(100.64/10), multicast, unspecified and reserved addresses are refused.
``alerts.allowed_hosts`` opens them on purpose: an entry names a host
(``alertmanager.internal``, ``*.internal``), an address (``10.0.0.5``, ``::1``)
or a network (``10.0.0.0/8``). A non-empty list also limits hooks to the hosts
it names, as before.

The check is made on the addresses the connection is made to: the sender
resolves the name once, checks every address, and connects to a checked one
(:mod:`analytics.alerting.sender` pins it), so DNS cannot answer differently
between the check and the connection.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: (host, port) → the addresses the name resolves to.
Resolve = Callable[[str, int], list[str]]


class RefusedDestination(Exception):
    """The hook's host resolves to an address hooks may not reach without an allow-list entry."""


def special_kind(address: IPAddress) -> str | None:
    """What makes ``address`` off-limits by default (``loopback``, ``private``, ...) or ``None``.

    An IPv4-mapped IPv6 address is judged as the IPv4 address it maps.
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return special_kind(address.ipv4_mapped)
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    )
    for kind, hit in checks:
        if hit:
            return kind
    # e.g. the shared address space 100.64.0.0/10, documentation ranges
    return None if address.is_global else "non-public"


@dataclass(frozen=True)
class HostPolicy:
    """``alerts.allowed_hosts`` parsed: host names and patterns, and networks."""

    names: tuple[str, ...] = ()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def of(cls, allowed_hosts: Sequence[str]) -> HostPolicy:
        """The policy of an allow-list (entries that parse as an address or network are those)."""
        names: list[str] = []
        networks: list[IPNetwork] = []
        for entry in allowed_hosts:
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                names.append(entry)
        return cls(names=tuple(names), networks=tuple(networks))

    @property
    def restricted(self) -> bool:
        """Whether the list limits hooks to the hosts it names."""
        return bool(self.names or self.networks)

    def names_host(self, host: str) -> bool:
        """Whether an entry names ``host`` (by name, or an address literal by its network)."""
        address = _literal(host)
        if address is not None:
            return any(address in net for net in self.networks) or host_allowed(
                str(address), self.names
            )
        return host_allowed(host, self.names)

    def check(self, host: str, address: str) -> None:
        """Raise :class:`RefusedDestination` unless a hook at ``host`` may reach ``address``."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if self.names_host(host) or any(ip in net for net in self.networks):
            return
        shown = host if host == str(ip) else f"{host} ({ip})"
        if self.restricted:
            raise RefusedDestination(f"refused: hook host {shown} is not in alerts.allowed_hosts")
        kind = special_kind(ip)
        if kind is not None:
            raise RefusedDestination(
                f"refused: hook host {shown} is a {kind} address; hooks reach only public "
                f"addresses unless alerts.allowed_hosts names the host, e.g. "
                f'allowed_hosts = ["{host}"]'
            )

    def static_warning(self, name: str, host: str) -> str | None:
        """A warning, at start-up, for a hook whose host is known to be refused, else ``None``."""
        address = _literal(host)
        if address is None and (host == "localhost" or host.endswith(".localhost")):
            address = ipaddress.ip_address("127.0.0.1")
        if address is None or self.names_host(host) or self.restricted:
            return None
        try:
            self.check(host, str(address))
        except RefusedDestination as exc:
            return f"hook {name!r} will not be delivered: {exc}"
        return None


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to for a TCP connection, in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def checked_addresses(
    policy: HostPolicy, host: str, port: int, *, resolver: Resolve = resolve
) -> list[str]:
    """The addresses of ``host`` a hook may connect to; every one is checked, one refusal refuses.

    Raises :class:`RefusedDestination`, or :class:`OSError` when the name does not resolve.
    """
    literal = _literal(host)
    addresses = [str(literal)] if literal is not None else resolver(host, port)
    if not addresses:
        raise OSError(f"{host} resolves to no address")
    for address in addresses:
        policy.check(host, address)
    return addresses


def host_allowed(host: str, allowed_hosts: Sequence[str]) -> bool:
    """Whether ``host`` is one of ``allowed_hosts`` or under one of their ``*.`` wildcards."""
    host = host.lower().rstrip(".")
    for entry in allowed_hosts:
        entry = entry.lower().rstrip(".")
        if entry.startswith("*."):
            if host.endswith(entry[1:]) and host != entry[2:]:
                return True
        elif host == entry:
            return True
    return False


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
