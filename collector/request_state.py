"""A request's state from its attempts, and what it adds to the request rollups.

Pure functions. A request's state depends only on the set of attempts merged
into it, never on their order: the first and the served attempt are chosen by
total orders, the rest are sums and sets. So attempts that arrive late, in any
order, give the same state as if they had come together, and a request's
contribution to ``request_rollups`` can be moved exactly: subtract what the old
state contributed, add what the new one does (:class:`RollupDeltas`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from collector import buckets

#: The bit of each tier in :attr:`RequestState.tiers`.
TIER_BITS = {"device": 1, "edge": 2, "cloud": 4}
LOCAL_TIERS = frozenset({"device", "edge"})
SPAN_ID_BYTES = 8
#: The ``request_rollups`` columns that merge by addition, in table order (histogram excluded).
REQUEST_SUM_COLUMNS = (
    "requests",
    "answered",
    "failed",
    "escalated",
    "served_device",
    "served_edge",
    "served_cloud",
    "attempts_sum",
    "tiers_sum",
    "latency_ms_sum",
    "quality_count",
    "quality_sum",
    "quality_sq_sum",
    "input_tokens_sum",
    "output_tokens_sum",
)
#: Rollup key: (segment id, minute in Unix seconds).
RollupKey = tuple[int, int]


class AttemptFacts(NamedTuple):
    """What of one stored attempt a request needs (a tuple: built from a row at no cost)."""

    fleet: str
    trace_id: bytes
    span_id: bytes
    segment_id: int
    start_time_unix_nano: int
    latency_ms: float
    tier: str
    #: ``hybrid.attempt`` (``None``: not sent, counted as the first).
    attempt: int | None
    fallback: bool
    error: bool
    shadow: bool
    quality: float | None
    input_tokens: int | None
    output_tokens: int | None

    @property
    def served(self) -> bool:
        """Whether this attempt's answer was served."""
        return not (self.shadow or self.fallback or self.error)

    def order(self) -> tuple[int, int, bytes]:
        """Rank among a request's attempts: the lower, the earlier tried."""
        return (self.attempt or 1, self.start_time_unix_nano, self.span_id)


class RequestState(NamedTuple):
    """One request as a ``requests`` row holds it (see :class:`collector.schema.Request`).

    A tuple of the row's columns in order, so it is read and written as it is.
    """

    trace_id: bytes
    fleet: str
    start_time_unix_nano: int
    segment_id: int | None = None
    first_attempt: int | None = None
    first_tier: str | None = None
    #: The first attempt's span id: the last tie-break of :meth:`AttemptFacts.order`.
    first_span_id: bytes | None = None
    served_attempt: int | None = None
    served_start_unix_nano: int | None = None
    served_latency_ms: float | None = None
    served_tier: str | None = None
    served_quality: float | None = None
    served_span_id: bytes | None = None
    attempts: int = 0
    tiers: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    span_ids: bytes = b""

    def has(self, span_id: bytes) -> bool:
        """Whether the attempt with ``span_id`` is merged already."""
        ids = self.span_ids
        return any(ids[i : i + SPAN_ID_BYTES] == span_id for i in range(0, len(ids), SPAN_ID_BYTES))

    def span_id_list(self) -> Iterator[bytes]:
        """The span ids merged, in the order they were."""
        ids = self.span_ids
        return (ids[i : i + SPAN_ID_BYTES] for i in range(0, len(ids), SPAN_ID_BYTES))


def new_request(attempt: AttemptFacts) -> RequestState:
    """The empty state of ``attempt``'s request."""
    return RequestState(
        fleet=attempt.fleet,
        trace_id=attempt.trace_id,
        start_time_unix_nano=attempt.start_time_unix_nano,
    )


def merge(state: RequestState, *attempts: AttemptFacts) -> RequestState:
    """``state`` with ``attempts`` merged; ``state`` itself when every one was merged already."""
    values: dict[str, Any] | None = None
    for attempt in attempts:
        span_id = attempt.span_id
        if values is None:
            if state.has(span_id):
                continue
            values = state._asdict()
        elif _holds(values["span_ids"], span_id):
            continue
        _merge_into(values, attempt)
    return state if values is None else RequestState(**values)


def _holds(span_ids: bytes, span_id: bytes) -> bool:
    # A substring search in C; a match must also start at a span id's boundary.
    at = span_ids.find(span_id)
    while at != -1 and at % SPAN_ID_BYTES:
        at = span_ids.find(span_id, at + 1)
    return at != -1


def _merge_into(values: dict[str, Any], attempt: AttemptFacts) -> None:
    """Merge one attempt that is not merged yet into a state's field values."""
    values["span_ids"] += attempt.span_id
    values["input_tokens"] += attempt.input_tokens or 0
    values["output_tokens"] += attempt.output_tokens or 0
    start = attempt.start_time_unix_nano
    if attempt.shadow:
        # A shadow attempt only evaluates: it adds tokens, and dates a request that has
        # no other attempt yet (for retention).
        if values["segment_id"] is None:
            values["start_time_unix_nano"] = min(values["start_time_unix_nano"], start)
        return
    values["attempts"] += 1
    values["tiers"] |= TIER_BITS.get(attempt.tier, 0)
    rank = attempt.order()
    first = values["first_attempt"]
    if first is None or rank < (
        first,
        values["start_time_unix_nano"],
        values["first_span_id"] or b"",
    ):
        values["segment_id"] = attempt.segment_id
        values["first_attempt"] = rank[0]
        values["first_tier"] = attempt.tier
        values["first_span_id"] = attempt.span_id
        values["start_time_unix_nano"] = start
    if not attempt.served:
        return
    served = values["served_attempt"]
    if served is None or rank < (
        served,
        values["served_start_unix_nano"],
        values["served_span_id"] or b"",
    ):
        values["served_attempt"] = rank[0]
        values["served_start_unix_nano"] = start
        values["served_latency_ms"] = attempt.latency_ms
        values["served_tier"] = attempt.tier
        values["served_quality"] = attempt.quality
        values["served_span_id"] = attempt.span_id


def end_to_end_ms(state: RequestState) -> float | None:
    """From the first attempt's start to the served attempt's end (ms); ``None``: unanswered."""
    if state.served_latency_ms is None or state.served_start_unix_nano is None:
        return None
    waited = (state.served_start_unix_nano - state.start_time_unix_nano) / 1e6
    return waited + state.served_latency_ms


@dataclass(frozen=True)
class Contribution:
    """What one request adds to one ``request_rollups`` row."""

    key: RollupKey
    sums: dict[str, float]
    #: Latency bucket of an answered request.
    latency_bucket: int | None


def contribution(state: RequestState) -> Contribution | None:
    """What ``state`` adds to the request rollups; ``None`` before it has a non-shadow attempt."""
    if state.segment_id is None or state.attempts == 0:
        return None
    sums = dict.fromkeys(REQUEST_SUM_COLUMNS, 0.0)
    sums["requests"] = 1
    sums["attempts_sum"] = state.attempts
    sums["tiers_sum"] = bin(state.tiers).count("1")
    sums["input_tokens_sum"] = state.input_tokens
    sums["output_tokens_sum"] = state.output_tokens
    latency = end_to_end_ms(state)
    bucket = None
    if latency is None:
        sums["failed"] = 1
    else:
        sums["answered"] = 1
        sums[f"served_{state.served_tier}"] = 1
        if state.first_tier in LOCAL_TIERS and state.served_tier == "cloud":
            sums["escalated"] = 1
        sums["latency_ms_sum"] = latency
        bucket = buckets.latency_bucket(latency)
        if state.served_quality is not None:
            sums["quality_count"] = 1
            sums["quality_sum"] = state.served_quality
            sums["quality_sq_sum"] = state.served_quality * state.served_quality
    minute = state.start_time_unix_nano // 60_000_000_000 * 60
    return Contribution(key=(state.segment_id, minute), sums=sums, latency_bucket=bucket)


class RollupDeltas:
    """Changes to ``request_rollups`` rows: contributions added and taken away."""

    def __init__(self) -> None:
        self.sums: dict[RollupKey, dict[str, float]] = {}
        self.histograms: dict[RollupKey, dict[int, int]] = {}

    def add(self, part: Contribution | None, sign: int = 1) -> None:
        """Add ``part`` (``sign=-1``: take it away)."""
        if part is None:
            return
        sums = self.sums.get(part.key)
        if sums is None:
            sums = self.sums[part.key] = dict.fromkeys(REQUEST_SUM_COLUMNS, 0.0)
            self.histograms[part.key] = {}
        for name, value in part.sums.items():
            sums[name] += sign * value
        if part.latency_bucket is not None:
            hist = self.histograms[part.key]
            hist[part.latency_bucket] = hist.get(part.latency_bucket, 0) + sign

    def move(self, before: RequestState | None, after: RequestState) -> None:
        """Replace what ``before`` contributed by what ``after`` does."""
        old = None if before is None else contribution(before)
        new = contribution(after)
        if old == new:
            return
        self.add(old, -1)
        self.add(new, +1)

    def touched(self) -> list[RollupKey]:
        """The rows touched, in key order."""
        return sorted(self.sums)

    def apply(self, key: RollupKey, stored: dict[str, Any] | None) -> dict[str, Any] | None:
        """The row ``key`` after the changes, from its stored values; ``None``: no row left.

        A row whose requests all moved away is removed. Nothing goes below zero: a
        row only the changes would take below it is one whose minute expired while a
        request in it was still kept, which retention's horizons rule out.
        """
        sums = self.sums[key]
        row: dict[str, Any] = {"segment_id": key[0], "minute": key[1]}
        for name in REQUEST_SUM_COLUMNS:
            value = (0 if stored is None else stored[name]) + sums[name]
            row[name] = float(value) if name in _FLOAT_SUMS else max(round(value), 0)
        if row["requests"] <= 0:
            return None
        hist = buckets.decode(None if stored is None else stored["latency_hist"])
        for bucket, count in self.histograms[key].items():
            hist[bucket] = hist.get(bucket, 0) + count
        hist = {bucket: count for bucket, count in hist.items() if count > 0}
        row["latency_hist"] = buckets.encode(hist)
        return row


#: The sums that are not counts.
_FLOAT_SUMS = frozenset({"latency_ms_sum", "quality_sum", "quality_sq_sum"})
