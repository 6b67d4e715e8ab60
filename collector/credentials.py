"""Credentials in settings: taken from the environment (``${VAR}``) or a file (``*_file``).

A credential (a hook's signing secret, an ``Authorization`` header, a database
password) should not sit in the configuration file. Any such value may name
environment variables, ``"Bearer ${AM_TOKEN}"``, and most have a ``*_file``
twin that reads the value from a file (a Docker or Kubernetes secret). Both
are read once, when the settings are validated at start-up; a missing variable
or an unreadable file is one error line naming the key and how to fix it.

Lives at the bottom of the package graph, next to :class:`collector.config.Section`,
so that every component's section can use it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

#: ``${NAME}``; ``$${`` stands for a literal ``${``.
_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: What a credential looks like wherever it is shown.
REDACTED = "<redacted>"


class MissingCredential(ValueError):
    """A credential names an environment variable that is not set, or a file that cannot be read."""


def expand(
    value: str,
    *,
    key: str,
    file_key: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """``value`` with every ``${VAR}`` replaced by the environment variable's value.

    ``key`` names the setting in the error (and ``file_key`` the setting that
    could read it from a file instead): a missing variable raises
    :class:`MissingCredential`.
    """
    env = os.environ if environ is None else environ

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "$"
        if name not in env:
            fix = f"set {name} in the server's environment"
            if file_key:
                fix += f", or write the value in a file and use {file_key}"
            raise MissingCredential(
                f"{key} names the environment variable {name}, which is not set; {fix}"
            )
        return env[name]

    return _REFERENCE.sub(replace, value)


def read_file(path: str, *, key: str) -> str:
    """The content of the file at ``path`` without its trailing newline (``key`` for errors)."""
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise MissingCredential(
            f"{key} = {path!r} cannot be read ({reason}); make the file readable by the "
            f"server's user, or set the value from the environment instead"
        ) from None
    value = text.rstrip("\r\n")
    if not value:
        raise MissingCredential(f"{key} = {path!r} is empty; write the value in the file")
    return value


def one_of(value: str, path: str, *, key: str) -> str:
    """The credential set either inline as ``key`` (``${VAR}`` allowed) or as ``key_file``."""
    if value and path:
        raise ValueError(f"set {key} or {key}_file, not both")
    if path:
        return read_file(path, key=f"{key}_file")
    return expand(value, key=key, file_key=f"{key}_file")
