"""Silences: matchers over alert labels that mute notifications until an end time.

Matchers follow Alertmanager: ``name=value``, ``name!=value``, ``name=~regex`` and
``name!~regex``; regular expressions match the whole value, and a label an alert
does not have counts as the empty string. A silence mutes an alert when every
matcher matches, between ``starts_at`` and ``ends_at``; a silence created for one
fleet mutes that fleet's alerts only. Silences know nothing of hooks: they only
answer whether an alert is muted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from collector.schema import SILENCES

OPERATORS = ("=~", "!~", "!=", "=")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class BadSilence(ValueError):
    """A silence needs matchers like name=value, name!=value, name=~regex or name!~regex."""


@dataclass(frozen=True)
class Matcher:
    """One label condition of a silence."""

    name: str
    op: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this matcher (a missing label is the empty string)."""
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.value}"

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "op": self.op, "value": self.value}


def matcher(name: str, op: str, value: str) -> Matcher:
    """A checked :class:`Matcher`; raises :class:`BadSilence`."""
    if not _NAME.match(name):
        raise BadSilence(f"invalid label name {name!r} in a matcher")
    if op not in OPERATORS:
        raise BadSilence(f"invalid matcher operator {op!r}; use =, !=, =~ or !~")
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise BadSilence(f"invalid regular expression {value!r} for {name}: {exc}") from None
    return Matcher(name=name, op=op, value=value)


def parse_matcher(text: str) -> Matcher:
    """A matcher written as ``name=value``, ``name!=value``, ``name=~re`` or ``name!~re``."""
    match = re.match(r"^\s*([^=!~\s]+)\s*(=~|!~|!=|=)(.*)$", text)
    if match is None:
        raise BadSilence(f"invalid matcher {text!r}: {BadSilence.__doc__}")
    name, op, value = match.groups()
    return matcher(name, op, value.strip().strip('"'))


def check_matchers(matchers: Sequence[Matcher]) -> None:
    """A silence must not mute everything: one matcher at least must reject the empty string."""
    if not matchers:
        raise BadSilence("a silence needs at least one matcher")
    if all(m.matches({}) for m in matchers):
        raise BadSilence(
            "every matcher matches an empty label, so the silence would mute every alert"
        )


@dataclass(frozen=True)
class Silence:
    """A silence as the mute stage sees it (times in Unix milliseconds)."""

    id: int
    matchers: tuple[Matcher, ...]
    starts_at: int
    ends_at: int
    fleet: str | None = None

    def active(self, now: int) -> bool:
        return self.starts_at <= now < self.ends_at

    def mutes(self, labels: Mapping[str, str], *, fleet: str, now: int) -> bool:
        """Whether this silence mutes an alert of ``fleet`` with ``labels`` at ``now``."""
        if not self.active(now):
            return False
        if self.fleet is not None and self.fleet != fleet:
            return False
        return all(m.matches(labels) for m in self.matchers)


def muted_by(
    silences: Iterable[Silence], labels: Mapping[str, str], *, fleet: str, now: int
) -> Silence | None:
    """The first silence that mutes the alert, or ``None``."""
    return next((s for s in silences if s.mutes(labels, fleet=fleet, now=now)), None)


# --- the store ---------------------------------------------------------------------------


def create_silence(
    conn: Connection,
    *,
    matchers: Sequence[Matcher],
    starts_at: int,
    ends_at: int,
    created_by: str,
    comment: str,
    fleet: str | None,
    now: int,
) -> int:
    """Store a silence (in the caller's transaction) and return its id."""
    check_matchers(matchers)
    if ends_at <= starts_at:
        raise BadSilence("a silence must end after it starts")
    if ends_at <= now:
        raise BadSilence("a silence must end in the future")
    result = conn.execute(
        insert(SILENCES)
        .values(
            fleet=fleet,
            matchers=json.dumps([m.to_dict() for m in matchers]),
            starts_at=starts_at,
            ends_at=ends_at,
            created_by=created_by,
            comment=comment,
            created_at=now,
        )
        .returning(SILENCES.c.id)
    )
    return int(result.scalar_one())


def update_silence(
    conn: Connection,
    *,
    silence_id: int,
    fleet: str | None,
    now: int,
    matchers: Sequence[Matcher] | None = None,
    ends_at: int | None = None,
    comment: str | None = None,
) -> bool:
    """Change a silence's matchers, end or comment; ``False`` if there is none to change."""
    values: dict[str, object] = {}
    if matchers is not None:
        check_matchers(matchers)
        values["matchers"] = json.dumps([m.to_dict() for m in matchers])
    if ends_at is not None:
        if ends_at <= now:
            raise BadSilence("a silence must end in the future")
        values["ends_at"] = ends_at
    if comment is not None:
        values["comment"] = comment
    if not values:
        return _visible(conn, silence_id, fleet)
    query = update(SILENCES).where(SILENCES.c.id == silence_id).values(**values)
    if fleet is not None:
        query = query.where(SILENCES.c.fleet == fleet)
    return conn.execute(query).rowcount == 1


def expire_silence(conn: Connection, *, silence_id: int, fleet: str | None, now: int) -> bool:
    """End a silence now (it stays listed); ``False`` if there is none visible to ``fleet``."""
    query = (
        update(SILENCES)
        .where(SILENCES.c.id == silence_id)
        .values(ends_at=now)
        .where(SILENCES.c.ends_at > now)
    )
    if fleet is not None:
        query = query.where(SILENCES.c.fleet == fleet)
    if conn.execute(query).rowcount == 1:
        return True
    return _visible(conn, silence_id, fleet)


def active_silences(conn: Connection, *, now: int) -> list[Silence]:
    """The silences in force at ``now``."""
    rows = conn.execute(
        select(SILENCES).where(SILENCES.c.starts_at <= now, SILENCES.c.ends_at > now)
    ).mappings()
    return [
        Silence(
            id=row["id"],
            matchers=tuple(Matcher(**m) for m in json.loads(row["matchers"])),
            starts_at=row["starts_at"],
            ends_at=row["ends_at"],
            fleet=row["fleet"],
        )
        for row in rows
    ]


def _visible(conn: Connection, silence_id: int, fleet: str | None) -> bool:
    query = select(SILENCES.c.id).where(SILENCES.c.id == silence_id)
    if fleet is not None:
        query = query.where(SILENCES.c.fleet == fleet)
    return conn.execute(query).first() is not None
