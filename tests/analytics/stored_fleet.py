"""A small fleet written through the collector's real write path, for API and CLI tests.

Three hours of attempts ending at :data:`END`: two baseline hours and one window
hour. In the window half of the ``galaxy-a14`` devices move to model version
2.2.0, which is worse (errors and latency); the other galaxies, the ``pixel-7``
devices, the edge and the cloud stay as they were. Some device requests fall back to the cloud (escalations) and
some get a cloud shadow attempt whose quality records agreement.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import Engine

from collector.normalise import AttemptRow, Batch
from collector.store import Store
from tests.analytics.synthetic import Profile, attempt_rows, segment_key

END = datetime(2025, 1, 2, 12, 0, tzinfo=UTC)
END_S = int(END.timestamp())
END_ISO = "2025-01-02T12:00:00Z"
PER_HOUR = 400


@dataclass
class Written:
    """What was stored, for exact expectations."""

    rows: list[AttemptRow] = field(default_factory=list)

    def window(self, **match: str) -> list[AttemptRow]:
        """Served attempts in the window hour matching ``match`` (attribute values)."""
        return [
            r
            for r in self.rows
            if r.start_time_unix_nano >= (END_S - 3600) * 1_000_000_000
            and not r.shadow
            and all(getattr(r, k) == v for k, v in match.items())
        ]


def _devices(name: str) -> list[str]:
    return [f"{name}-{i:02d}" for i in range(10)]


def write_fleet(engine: Engine, *, seed: int = 5, end: datetime = END) -> Written:
    """Write the fleet through :meth:`collector.store.Store.write`; return what was written.

    ``end`` moves the three hours (tests against real clocks end them now).
    """
    end_s = int(end.timestamp())
    rng = np.random.default_rng(seed)
    normal = Profile(attempts=PER_HOUR, error_rate=0.03, fallback_rate=0.05)
    written = Written()
    for hour in (3, 2, 1):
        start = end_s - hour * 3600
        in_window = hour == 1
        for device_model in ("pixel-7", "galaxy-a14"):
            key = segment_key(device_model=device_model)
            devices = _devices(device_model)
            if in_window and device_model == "galaxy-a14":
                # half the galaxies now run 2.2.0, a bad rollout
                bad = normal.degraded(error_rate=0.20, latency_median_ms=240.0)
                new = segment_key(device_model=device_model, model_version="2.2.0")
                written.rows += attempt_rows(
                    new, bad, start_s=start, minutes=60, rng=rng, device_ids=devices[:5]
                )
                devices = devices[5:]
            written.rows += attempt_rows(
                key, normal, start_s=start, minutes=60, rng=rng, device_ids=devices
            )
        for tier, node in (("edge", "edge-1"), ("cloud", "cloud-1")):
            key = segment_key(tier=tier, node=node)
            written.rows += attempt_rows(key, normal, start_s=start, minutes=60, rng=rng)
    written.rows += _escalations_and_shadows(written.rows, rng)
    Store(engine).write(Batch(attempts=written.rows), received_ns=end_s * 1_000_000_000)
    return written


def _escalations_and_shadows(rows: list[AttemptRow], rng: np.random.Generator) -> list[AttemptRow]:
    """Cloud attempts on device requests: after each fallback, and shadows on every 10th."""
    extra = []
    device_rows = [r for r in rows if r.tier == "device"]
    for i, row in enumerate(device_rows):
        cloud = dict(
            tier="cloud",
            node="cloud-1",
            device_id=None,
            device_model=None,
            span_id=rng.bytes(8),
            start_time_unix_nano=row.start_time_unix_nano + 1_000_000,
        )
        if row.fallback:
            extra.append(
                dataclasses.replace(row, **cloud, attempt=2, fallback=False, fallback_reason=None)
            )
        elif i % 10 == 0:
            extra.append(dataclasses.replace(row, **cloud, shadow=True, quality=0.9))
    return extra
