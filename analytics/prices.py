"""What one attempt costs: the price list entry of its tier (and model) applied to it.

The price list is the configuration's ``[[costs]]``: entries with ``tier``, an
optional ``model`` and any of ``per_call``, ``per_1k_input_tokens``,
``per_1k_output_tokens`` and ``per_node_hour``. The routing what-if needs the
price of one more attempt, so ``per_node_hour`` (a fixed cost that no routing
threshold changes) plays no part here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Price:
    """One ``[[costs]]`` entry: what a tier (or one model on it) costs."""

    tier: str
    model: str | None = None
    per_call: float = 0.0
    per_1k_input_tokens: float = 0.0
    per_1k_output_tokens: float = 0.0
    per_node_hour: float = 0.0


def price_for(prices: Sequence[Price], *, tier: str, model: str | None) -> Price | None:
    """The entry that prices ``model`` on ``tier``: the model's own, else the tier's, else none."""
    for entry in prices:
        if entry.tier == tier and entry.model is not None and entry.model == model:
            return entry
    for entry in prices:
        if entry.tier == tier and entry.model is None:
            return entry
    return None


def attempt_price(
    prices: Sequence[Price],
    *,
    tier: str,
    model: str | None,
    input_tokens: float = 0.0,
    output_tokens: float = 0.0,
) -> float | None:
    """The price of one attempt with these (mean) token counts; ``None`` when nothing prices it."""
    entry = price_for(prices, tier=tier, model=model)
    if entry is None:
        return None
    return (
        entry.per_call
        + entry.per_1k_input_tokens * input_tokens / 1000.0
        + entry.per_1k_output_tokens * output_tokens / 1000.0
    )
