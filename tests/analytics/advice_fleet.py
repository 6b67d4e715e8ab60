"""A small fleet for exact what-if expectations, stored through the collector's write path.

In one hour of ``photo-tag`` on the device tier, 10 answers at confidence 0.25
fell back for low confidence and were compared with the cloud's (3 right; the
cloud was right 9 times), and 30 answers at 0.75 were served (27 right). Each
escalation added 1,000 ms to the device's 100 ms. The current threshold is
therefore 0.26; at 0.00 everything is served locally (quality 0.75), from 0.26
to 0.75 what happened is replayed (quality 0.9, 10 cloud calls in 40).
"""

from __future__ import annotations

from sqlalchemy import Engine

from analytics.advice_rollups import fold_advice
from analytics.config import CostSettings, Price
from tests.analytics.attempts import attempt, store

HOUR = 1_735_819_200  # 2025-01-02T12:00:00Z
END_ISO = "2025-01-02T13:00:00Z"
PRICES = CostSettings([Price(tier="cloud", model="tagger-large", per_call=0.5)])


def write_advice_fleet(engine: Engine, *, fleet: str = "fleet-a") -> None:
    """Store the hour and fold it for advice."""
    rows = []
    for i in range(10):
        trace = (1000 + i).to_bytes(16, "big")
        at = HOUR + 60 * i
        rows.append(
            attempt(at, trace=trace, fleet=fleet, confidence=0.25, fallback=True,
                    fallback_reason="low_confidence", quality=1.0 if i < 3 else 0.0,
                    energy_mj=40.0)
        )  # fmt: skip
        rows.append(
            attempt(at + 1, trace=trace, fleet=fleet, tier="cloud", model="tagger-large",
                    confidence=None, quality=1.0 if i < 9 else 0.0, attempt=2)
        )  # fmt: skip
    for i in range(30):
        rows.append(
            attempt(HOUR + 30 + 60 * i, fleet=fleet, confidence=0.75,
                    quality=1.0 if i < 27 else 0.0, energy_mj=40.0)
        )  # fmt: skip
    store(engine, rows, received=HOUR + 3600)
    fold_advice(engine, now=HOUR + 2 * 3600)
