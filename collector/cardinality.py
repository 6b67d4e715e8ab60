"""Cardinality limits: how many distinct values each fleet may store per dimension.

The step between normalise and store. A sender that puts a build id in its model
name, or one that sends a new ``hybrid.task`` on every span, would otherwise make
a segment per value and every report would have to read them all. Each fleet may
store at most ``limit`` distinct values of each dimension in
:data:`LIMITED_DIMENSIONS`; an attempt with a value beyond that is stored with
:data:`OVERFLOW` in its place, and counted.

The set of values a fleet holds is the ``segments`` table, so the limit holds
across collector processes and servers sharing the database. Each process keeps
the values it has seen in memory: an attempt whose segment is already known
costs the store's one dictionary lookup, and an attempt with a known value one
set lookup per dimension. Only a value this process has not seen yet goes to the
database, under the lock that already serialises segment creation (SQLite's
writer lock across processes; an advisory lock on PostgreSQL), so the count it
reads cannot change before its segment is committed: the limit is exact.
Values are only ever added, so once a fleet is at its limit a value that is not
stored is folded without asking again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from collector.schema import SEGMENT_DIMENSIONS, SEGMENTS

#: The value an attempt is stored with when its own is beyond the limit. Reserved:
#: a sender's own ``__other__`` lands in the same segment, which means "other values".
OVERFLOW = "__other__"

#: Dimensions whose values a fleet's senders choose freely (``tier`` is one of three,
#: ``fleet`` is the token's).
LIMITED_DIMENSIONS = (
    "task",
    "model",
    "model_version",
    "device_model",
    "region",
    "app_version",
    "node",
)

#: Default limits, far above what a real fleet holds and far below what a sender
#: stuck in a loop makes: hundreds of features and models, a release train of
#: versions, a hardware catalogue of a few thousand phone models, a few thousand nodes.
DEFAULT_MAX_VALUES: dict[str, int] = {
    "task": 200,
    "model": 200,
    "model_version": 500,
    "device_model": 2_000,
    "region": 200,
    "app_version": 500,
    "node": 2_000,
}

#: Position of each limited dimension in a segment key.
_POSITIONS = tuple((SEGMENT_DIMENSIONS.index(d), d) for d in LIMITED_DIMENSIONS)
#: Values per ``IN`` list when asking which candidate values are stored.
_IN_SLICE = 500
#: Folded values remembered per fleet and dimension (then forgotten and counted anew).
FOLDED_MEMORY = 50_000

SegmentKey = tuple[str, ...]
#: (fleet, dimension)
Pair = tuple[str, str]


@dataclass
class Folds:
    """What the limits did to one batch: attempts and new distinct values folded, per pair."""

    attempts: Counter[Pair] = field(default_factory=Counter)
    values: Counter[Pair] = field(default_factory=Counter)
    #: Segment key as sent -> segment key as stored, for the keys that changed.
    keys: dict[SegmentKey, SegmentKey] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.keys)


class ValueLimits:
    """The limits of every fleet and what this process knows of the stored values."""

    def __init__(self, limits: Mapping[str | None, Mapping[str, int]] | None = None) -> None:
        limits = limits or {None: DEFAULT_MAX_VALUES}
        self._default = {**DEFAULT_MAX_VALUES, **limits.get(None, {})}
        self._fleets = {f: {**self._default, **v} for f, v in limits.items() if f is not None}
        #: Values known to be stored, per pair; a subset of the database's.
        self._known: dict[Pair, set[str]] = {}
        #: Values known to be beyond the limit, per pair.
        self._folded: dict[Pair, set[str]] = {}

    def limit(self, fleet: str, dimension: str) -> int:
        """The most distinct values of ``dimension`` that ``fleet`` may store."""
        return self._fleets.get(fleet, self._default)[dimension]

    def unknown(self, keys: Iterable[SegmentKey]) -> dict[Pair, set[str]]:
        """The values of ``keys`` this process cannot decide alone, per (fleet, dimension)."""
        out: dict[Pair, set[str]] = {}
        for key in keys:
            fleet = key[0]
            for position, dimension in _POSITIONS:
                value = key[position]
                if not value or value == OVERFLOW:
                    continue
                pair = (fleet, dimension)
                known = self._known.get(pair)
                if known is not None and value in known:
                    continue
                folded = self._folded.get(pair)
                if folded is not None and value in folded:
                    continue
                out.setdefault(pair, set()).add(value)
        return out

    def admit(self, conn: Connection, candidates: Mapping[Pair, set[str]]) -> None:
        """Decide ``candidates`` against the stored values; the caller holds the segments lock.

        Below the limit the stored values are read afresh (another process may have
        added some) and new values are admitted in sorted order until the limit;
        at the limit only the candidates are looked up, and the rest are folded.
        """
        for pair in sorted(candidates):
            fleet, dimension = pair
            column = SEGMENTS.c[dimension]
            limit = self.limit(fleet, dimension)
            known = self._known.get(pair)
            if known is None or len(known) < limit:
                query = select(column).distinct().where(SEGMENTS.c.fleet == fleet, column != "")
                known = {value for (value,) in conn.execute(query)}
                known.discard(OVERFLOW)
                self._known[pair] = known
            values = sorted(candidates[pair] - known)
            for offset in range(0, len(values), _IN_SLICE):
                part = values[offset : offset + _IN_SLICE]
                query = select(column).distinct().where(SEGMENTS.c.fleet == fleet, column.in_(part))
                known.update(value for (value,) in conn.execute(query))
            folded = self._folded.setdefault(pair, set())
            for value in values:
                if value in known:
                    continue
                if len(known) < limit:
                    known.add(value)
                else:
                    if len(folded) >= FOLDED_MEMORY:
                        folded.clear()
                    folded.add(value)

    def fold(self, keys: Sequence[SegmentKey], new_values: Mapping[Pair, set[str]]) -> Folds:
        """Which of ``keys`` change, after :meth:`admit`; ``new_values`` were the candidates.

        A value counts as a new distinct folded value when it was a candidate, that
        is the first time this process meets it.
        """
        out = Folds()
        for key in keys:
            if key in out.keys:
                continue
            fleet = key[0]
            stored: list[str] | None = None
            for position, dimension in _POSITIONS:
                value = key[position]
                if not value or value == OVERFLOW:
                    continue
                folded = self._folded.get((fleet, dimension))
                if folded is not None and value in folded:
                    if stored is None:
                        stored = list(key)
                    stored[position] = OVERFLOW
            if stored is not None:
                out.keys[key] = tuple(stored)
        for pair, values in new_values.items():
            folded = self._folded.get(pair, set())
            count = sum(1 for v in values if v in folded)
            if count:
                out.values[pair] += count
        return out


def folded_dimensions(sent: SegmentKey, stored: SegmentKey) -> list[str]:
    """The dimensions whose value ``stored`` replaced with :data:`OVERFLOW`."""
    return [d for p, d in _POSITIONS if sent[p] != stored[p]]
