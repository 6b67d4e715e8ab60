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

from analytics.alerting.destinations import HostPolicy, host_allowed

__all__ = ["BadHookUrl", "check_url", "host_allowed"]


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
        raise BadHookUrl(
            f"hook URL {url!r} must not carry credentials; use the hook's basic_auth or headers"
        )
    policy = HostPolicy.of(allowed_hosts)
    # A name not listed may still resolve into a listed network: that is checked when called.
    named = policy.names_host(host)
    if policy.restricted and not named and (_is_literal(host) or not policy.networks):
        raise BadHookUrl(
            f"hook URL {url!r}: host {host!r} is not in alerts.allowed_hosts "
            f"({', '.join(allowed_hosts)})"
        )
    return url


def _is_literal(host: str) -> bool:
    return HostPolicy.of([host]).networks != ()
