"""Cost and energy per fleet, task and tier: attempt rollups priced with ``[[costs]]``.

Costs are computed when they are read, from the rollups of every attempt, served
and shadow, per segment and hour:

- usage: ``per_call`` per attempt, ``per_1k_input_tokens`` and
  ``per_1k_output_tokens`` per 1,000 tokens, at the price of the attempt's model,
  else its tier's default;
- nodes: ``per_node_hour`` for every hour in which an edge or cloud node
  (``hybrid.node``; a fleet's node, named the same in another fleet, is another
  node) served attempts, a whole hour however few minutes of it lie in the
  window, shared among the segments, and so the tasks, that the node served in
  that hour in proportion to their attempts, each share at its own model's price.
  Edge and cloud attempts without a node name count as one node of their tier.

Within one segment and hour, every cost is shared evenly among its attempts
(rollups keep sums of tokens, not each attempt's), so the cost of its
escalations (``cloud_escalations``: cloud attempts after a local one, whose
answer was served) and of its fallbacks (answers not served) is its cost times
their share of its attempts. Shadow attempts ran only to evaluate another tier:
their whole cost is counted in their tier's cost, apart (``shadow_share``), and
with the fallbacks as cost spent on answers that were not served
(``wasted_share``). Their attempts are counted as ``shadow_attempts``, not as
``attempts``.

A request is counted once, by the tier of its first attempt. Costs per 1,000
requests and energy per request divide by the requests of the task (all tiers),
so the tiers of a task add up to the task's own figure.

An attempt without a price (its model has none and its tier no default) has an
unknown cost, and so has every total that holds one: ``None``, never zero, with
the tier or model named in ``unpriced``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from analytics.config import CostSettings, Price
from analytics.durations import from_unix, to_unix
from analytics.rollups import read_segment_hours, read_segments
from analytics.times import Time, TimeRange
from collector.schema import TIERS

#: The rollup sums a cost report reads.
COLUMNS = (
    "attempts",
    "requests",
    "fallbacks",
    "cloud_escalations",
    "input_tokens_sum",
    "output_tokens_sum",
    "energy_count",
    "energy_mj_sum",
)
#: Tiers whose attempts run on named nodes that may be paid by the hour.
NODE_TIERS = ("edge", "cloud")
HOUR = 3600
_PARTS = ("cost", "escalation_cost", "fallback_cost", "shadow_cost")


@dataclass(frozen=True)
class CostLine:
    """Cost and energy of a fleet's task on one tier (``tier`` None: all tiers of the task;
    ``task`` None too: the whole fleet).

    ``requests`` are the requests whose first attempt ran here; ``attempts`` the
    served-path attempts and ``shadow_attempts`` the shadow ones. ``cost`` is
    ``None`` when some of those attempts have no price. ``cost_per_1k_requests``
    and ``energy_mj_per_request`` divide by the task's requests (for the fleet,
    all its requests); ``escalation_share``, ``wasted_share`` (fallbacks and
    shadow attempts) and ``shadow_share`` are shares of ``cost``.
    """

    task: str | None
    tier: str | None
    requests: int
    attempts: int
    shadow_attempts: int
    cost: float | None
    cost_per_1k_requests: float | None
    escalation_share: float | None
    wasted_share: float | None
    shadow_share: float | None
    energy_mj_per_request: float | None


@dataclass(frozen=True)
class CostBucket:
    """One time bucket of a fleet's costs: per task and tier, and the fleet's total."""

    start: Time
    lines: list[CostLine]
    total: CostLine


@dataclass(frozen=True)
class FleetCosts:
    """A fleet's costs over the window: per task and tier, per task, in total, and over time.

    ``driver`` says in one sentence where most of the money went; ``unpriced``
    names the tiers (``edge``) and models (``cloud model gpt-small``) whose
    attempts have no price; ``notes`` say what else a reader should know.
    """

    fleet: str
    lines: list[CostLine]
    tasks: list[CostLine]
    total: CostLine
    driver: str | None
    unpriced: list[str]
    notes: list[str]
    buckets: list[CostBucket]


@dataclass(frozen=True)
class CostReport:
    """Every fleet's costs over ``window``, with buckets of ``bucket_seconds``."""

    window: TimeRange
    bucket_seconds: int
    fleets: list[FleetCosts]


def price_attempts(frame: pd.DataFrame, prices: CostSettings) -> pd.DataFrame:
    """``frame`` (segment hours with fleet, tier, model, node) with the cost of each row.

    Adds ``priced`` and, ``NaN`` where not priced, ``cost`` and the parts of it
    spent on escalations (``escalation_cost``), fallbacks (``fallback_cost``) and
    shadow attempts (``shadow_cost``).
    """
    out = frame.copy()
    table: dict[tuple[str, str], Price | None] = {
        (tier, model): prices.price_for(tier, model)
        for tier, model in out[["tier", "model"]].drop_duplicates().itertuples(index=False)
    }
    found = [table[(t, m)] for t, m in zip(out["tier"], out["model"], strict=True)]

    def amount(name: str) -> np.ndarray:
        return np.array([np.nan if p is None else p.amount(name) for p in found], dtype=float)

    attempts = out["attempts"].to_numpy(dtype=float)
    usage = (
        amount("per_call") * attempts
        + amount("per_1k_input_tokens") * out["input_tokens_sum"].to_numpy(dtype=float) / 1000
        + amount("per_1k_output_tokens") * out["output_tokens_sum"].to_numpy(dtype=float) / 1000
    )
    # A node-hour is shared by the rows (segments) the node served in that hour.
    node_hour = ["fleet", "tier", "node", "hour"]
    node_attempts = out.groupby(node_hour)["attempts"].transform("sum").to_numpy(dtype=float)
    on_node = out["tier"].isin(NODE_TIERS).to_numpy()
    share = np.where(on_node, attempts / np.maximum(node_attempts, 1), 0.0)
    cost = usage + share * np.nan_to_num(amount("per_node_hour"))
    priced = np.array([p is not None for p in found], dtype=bool)
    cost = np.where(priced, cost, np.nan)
    shadow = out["shadow"].to_numpy(dtype=bool)
    per_attempt = cost / np.maximum(attempts, 1)
    out["priced"] = priced
    out["cost"] = cost
    out["escalation_cost"] = np.where(
        shadow, 0.0, per_attempt * out["cloud_escalations"].to_numpy(dtype=float)
    )
    out["fallback_cost"] = np.where(
        shadow, 0.0, per_attempt * out["fallbacks"].to_numpy(dtype=float)
    )
    out["shadow_cost"] = np.where(shadow, cost, 0.0)
    for part in _PARTS[1:]:
        out[part] = np.where(priced, out[part], np.nan)
    return out


def unpriced(frame: pd.DataFrame, prices: CostSettings) -> list[str]:
    """The tiers, or models of tiers priced per model, whose attempts in ``frame`` lack a price."""
    tiers_priced = {p.tier for p in prices.root}
    names: set[tuple[int, str]] = set()
    for tier, model in frame[["tier", "model"]].drop_duplicates().itertuples(index=False):
        if prices.price_for(tier, model) is not None:
            continue
        order = TIERS.index(tier) if tier in TIERS else len(TIERS)
        if tier not in tiers_priced:
            names.add((order, tier))
        else:
            names.add((order, f"{tier} model {model or '(unnamed)'}"))
    return [name for _, name in sorted(names)]


def _sums(frame: pd.DataFrame) -> dict[str, float]:
    served = frame[~frame["shadow"]]
    return {
        "requests": float(served["requests"].sum()),
        "attempts": float(served["attempts"].sum()),
        "shadow_attempts": float(frame.loc[frame["shadow"], "attempts"].sum()),
        "unpriced": float((~frame["priced"]).sum()),
        "energy_count": float(frame["energy_count"].sum()),
        "energy_mj_sum": float(frame["energy_mj_sum"].sum()),
        **{part: float(frame[part].fillna(0.0).sum()) for part in _PARTS},
    }


def _ratio(part: float | None, whole: float | None, scale: float = 1.0) -> float | None:
    if part is None or whole is None or whole == 0:
        return None
    return part / whole * scale


def cost_line(
    frame: pd.DataFrame, *, task: str | None, tier: str | None, task_requests: float
) -> CostLine:
    """One line from priced rows (:func:`price_attempts`); ``task_requests`` divides per request."""
    sums = _sums(frame)
    known = sums["unpriced"] == 0
    cost = sums["cost"] if known else None
    energy = sums["energy_mj_sum"] if sums["energy_count"] > 0 else None
    return CostLine(
        task=task,
        tier=tier,
        requests=int(sums["requests"]),
        attempts=int(sums["attempts"]),
        shadow_attempts=int(sums["shadow_attempts"]),
        cost=cost,
        cost_per_1k_requests=_ratio(cost, task_requests, 1000.0),
        escalation_share=_ratio(sums["escalation_cost"] if known else None, cost),
        wasted_share=_ratio(sums["fallback_cost"] + sums["shadow_cost"] if known else None, cost),
        shadow_share=_ratio(sums["shadow_cost"] if known else None, cost),
        energy_mj_per_request=_ratio(energy, task_requests),
    )


def _tier_order(tier: str) -> int:
    return TIERS.index(tier) if tier in TIERS else len(TIERS)


def task_tier_lines(frame: pd.DataFrame) -> list[CostLine]:
    """One line per task and tier of one fleet's priced rows, tasks by name, tiers in order."""
    task_requests = frame[~frame["shadow"]].groupby("task")["requests"].sum()
    lines = []
    groups = frame.groupby(["task", "tier"], sort=False)
    for task, tier in sorted(groups.groups, key=lambda k: (k[0], _tier_order(k[1]))):
        rows = groups.get_group((task, tier))
        lines.append(
            cost_line(rows, task=task, tier=tier, task_requests=float(task_requests.get(task, 0)))
        )
    return lines


def task_lines(frame: pd.DataFrame) -> list[CostLine]:
    """One line per task of one fleet's priced rows, all tiers together."""
    lines = []
    for task, rows in frame.groupby("task", sort=True):
        requests = float(rows.loc[~rows["shadow"], "requests"].sum())
        lines.append(cost_line(rows, task=str(task), tier=None, task_requests=requests))
    return lines


def total_line(frame: pd.DataFrame) -> CostLine:
    """The fleet's line: every task and tier of its priced rows."""
    requests = float(frame.loc[~frame["shadow"], "requests"].sum())
    return cost_line(frame, task=None, tier=None, task_requests=requests)


def format_money(value: float | None) -> str:
    """An amount of money as reports write it (4 decimals), ``unknown`` for ``None``."""
    return "unknown" if value is None else f"{value:,.4f}"


def _percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def cost_driver(lines: list[CostLine], total: CostLine) -> str | None:
    """One sentence naming the task and tier that cost the most, and what its money went on."""
    known = [line for line in lines if line.cost is not None and line.cost > 0]
    if not known:
        return None
    top = max(known, key=lambda line: line.cost or 0.0)
    assert top.cost is not None
    sentence = f"{top.task} on the {top.tier} tier costs the most: {format_money(top.cost)}"
    if total.cost:
        sentence += f" of {format_money(total.cost)} ({_percent(top.cost / total.cost)})"
    else:
        sentence += " (the total is unknown)"
    spent = []
    if top.escalation_share:
        spent.append(f"{_percent(top.escalation_share)} on escalations")
    if top.wasted_share:
        spent.append(f"{_percent(top.wasted_share)} on answers not served")
    if spent:
        sentence += ", " + " and ".join(spent)
    return sentence + "."


def _notes(frame: pd.DataFrame, prices: CostSettings, missing: list[str]) -> list[str]:
    notes = []
    if missing:
        notes.append(
            f"no price for {', '.join(missing)}: the cost of those attempts is unknown, "
            "and so is every total that holds them"
        )
    nameless = frame[frame["tier"].isin(NODE_TIERS) & (frame["node"] == "")]
    for tier in NODE_TIERS:
        rows = nameless[nameless["tier"] == tier]
        paid = any(
            (p := prices.price_for(tier, m)) is not None and p.amount("per_node_hour") > 0
            for m in rows["model"].unique()
        )
        if paid:
            count = int(rows["attempts"].sum())
            notes.append(
                f"{count} {tier} attempt{'s' if count != 1 else ''} name no node "
                "(hybrid.node): they are counted as one node per hour"
            )
    return notes


def fleet_costs(
    frame: pd.DataFrame, prices: CostSettings, *, bucket_seconds: int, fleet: str
) -> FleetCosts:
    """One fleet's costs from its segment hours (``frame``: rollup sums with dimensions)."""
    priced = price_attempts(frame, prices)
    lines = task_tier_lines(priced)
    total = total_line(priced)
    missing = unpriced(priced, prices)
    buckets = []
    starts = priced["hour"].to_numpy(dtype=np.int64) // bucket_seconds * bucket_seconds
    for start in sorted(set(starts.tolist())):
        rows = priced[starts == start]
        buckets.append(
            CostBucket(start=from_unix(start), lines=task_tier_lines(rows), total=total_line(rows))
        )
    return FleetCosts(
        fleet=fleet,
        lines=lines,
        tasks=task_lines(priced),
        total=total,
        driver=cost_driver(lines, total),
        unpriced=missing,
        notes=_notes(priced, prices, missing),
        buckets=buckets,
    )


def costs_by_fleet(
    frame: pd.DataFrame, prices: CostSettings, *, bucket_seconds: int
) -> list[FleetCosts]:
    """Every fleet's costs from segment hours with dimensions, fleets by name."""
    return [
        fleet_costs(rows, prices, bucket_seconds=bucket_seconds, fleet=str(fleet))
        for fleet, rows in frame.groupby("fleet", sort=True)
    ]


def cost_report(
    conn: Connection,
    *,
    end: datetime,
    window: timedelta,
    prices: CostSettings,
    fleet: str | None = None,
    bucket: timedelta = timedelta(days=1),
) -> CostReport:
    """The costs of ``[end - window, end)`` (``end`` cut to the minute), per fleet.

    ``bucket`` is a whole number of hours: buckets start at its multiples since the epoch.
    """
    bucket_seconds = int(bucket.total_seconds())
    if bucket_seconds <= 0 or bucket_seconds % HOUR:
        raise ValueError("a cost bucket is a whole number of hours, e.g. 1h or 1d")
    end_s = to_unix(end) // 60 * 60
    start_s = end_s - int(window.total_seconds())
    sums = read_segment_hours(conn, start=start_s, end=end_s, columns=COLUMNS, fleet=fleet)
    segments = read_segments(conn, fleet=fleet)[["fleet", "tier", "task", "model", "node"]]
    frame = sums.join(segments, on="segment_id", how="inner")
    frame["shadow"] = frame["shadow"].astype(bool)
    return CostReport(
        window=TimeRange(from_unix(start_s), from_unix(end_s)),
        bucket_seconds=bucket_seconds,
        fleets=costs_by_fleet(frame, prices, bucket_seconds=bucket_seconds),
    )
