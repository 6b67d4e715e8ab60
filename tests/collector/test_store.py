"""The store on its own: segment ids across collectors, retries and retention."""

from __future__ import annotations

import time

from sqlalchemy import Engine, func, select

from collector.normalise import Normaliser
from collector.retention import NS_PER_DAY, expire_attempts
from collector.schema import ATTEMPTS, ROLLUPS, SEGMENTS
from collector.store import Store
from tests.otlp import request, span


def _batch(*spans: object, device_model: str = "pixel-8") -> object:
    return Normaliser().normalise(
        request(list(spans), {"device.model.identifier": device_model}),  # type: ignore[arg-type]
        fleet="f",
        now_ns=time.time_ns(),
    )


def test_two_collectors_share_segment_ids(engine: Engine) -> None:
    first, second = Store(engine), Store(engine)
    first.write(_batch(span(1), span(2, attrs={"hybrid.tier": "edge"})), received_ns=time.time_ns())
    # the second collector has never seen these segments: it finds them, creates the new one
    result = second.write(
        _batch(span(3), span(4, attrs={"hybrid.tier": "cloud"})), received_ns=time.time_ns()
    )
    assert (result.stored, result.duplicates) == (2, 0)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(SEGMENTS)).scalar_one() == 3
        tiers = dict(
            conn.execute(
                select(SEGMENTS.c.tier, func.sum(ROLLUPS.c.attempts))
                .join(ROLLUPS, ROLLUPS.c.segment_id == SEGMENTS.c.id)
                .group_by(SEGMENTS.c.tier)
            ).all()
        )
    assert tiers == {"device": 2, "edge": 1, "cloud": 1}


def test_duplicates_within_and_across_batches(engine: Engine) -> None:
    store = Store(engine)
    assert (
        store.write(_batch(span(1), span(1), span(2)), received_ns=time.time_ns()).duplicates == 1
    )
    again = store.write(_batch(span(2), span(3)), received_ns=time.time_ns())
    assert (again.stored, again.duplicates) == (1, 1)
    with engine.connect() as conn:
        assert conn.execute(select(func.sum(ROLLUPS.c.attempts))).scalar_one() == 3


def test_retention_expires_old_attempts_only(engine: Engine) -> None:
    now = time.time_ns()
    store = Store(engine)
    store.write(
        _batch(
            span(1, start_ns=now - 40 * NS_PER_DAY),
            span(2, start_ns=now - 10 * NS_PER_DAY),
            span(3),
        ),
        received_ns=now,
    )
    assert expire_attempts(engine, now_ns=now, retention_days=30, batch=1) == 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ATTEMPTS)).scalar_one() == 2
        # rollups keep the history
        assert conn.execute(select(func.sum(ROLLUPS.c.attempts))).scalar_one() == 3


def test_duplicates_in_a_later_slice_of_a_large_batch(engine: Engine) -> None:
    store = Store(engine)
    store.write(_batch(*(span(n) for n in range(2000, 2100))), received_ns=time.time_ns())
    # sorted by identity: 1..500 fill the first INSERT slice, new; 2000..2199 the second,
    # where 2000..2099 were stored already
    batch = _batch(*(span(n) for n in [*range(1, 501), *range(2000, 2200)]))
    result = store.write(batch, received_ns=time.time_ns())
    assert (result.stored, result.duplicates) == (600, 100)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ATTEMPTS)).scalar_one() == 700
        assert conn.execute(select(func.sum(ROLLUPS.c.attempts))).scalar_one() == 700
