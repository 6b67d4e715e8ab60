"""Hook URLs: http or https only, and, when an allow-list is set, only its hosts.

The allow-list keeps the service from being pointed at internal addresses: with
one set, a hook can reach only the hosts named (``hooks.example.com``) or their
subdomains (``*.example.com``). Redirects are never followed (see
:mod:`analytics.alerting.sender`), so an allowed host cannot bounce a
notification elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit


class BadHookUrl(ValueError):
    """A hook URL must be http:// or https:// with a host, and the host must be allowed."""


def check_url(url: str, allowed_hosts: Sequence[str] = ()) -> str:
    """``url`` if a hook may call it; raises :class:`BadHookUrl` saying why not."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a bad port
    except ValueError as exc:
        raise BadHookUrl(f"hook URL {url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise BadHookUrl(f"hook URL {url!r} must start with http:// or https://")
    host = (parts.hostname or "").lower()
    if not host:
        raise BadHookUrl(f"hook URL {url!r} has no host")
    if parts.username or parts.password:
        raise BadHookUrl(f"hook URL {url!r} must not carry credentials; use the hook's secret")
    if allowed_hosts and not host_allowed(host, allowed_hosts):
        raise BadHookUrl(
            f"hook URL {url!r}: host {host!r} is not in alerts.allowed_hosts "
            f"({', '.join(allowed_hosts)})"
        )
    return url


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
