"""The evaluator lease: one holder at a time, hand-over on expiry, fenced writes."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine

from analytics.alerting import lease
from collector.db import WRITE

T0 = 1_735_819_200_000
TTL = 10_000


def acquire(engine: Engine, holder: str, now: int) -> bool:
    return lease.acquire(engine, name=lease.EVALUATOR, holder=holder, now=now, ttl_ms=TTL)


def test_one_holder_then_hand_over(engine: Engine) -> None:
    steps = [
        # a takes the free lease
        ("a", T0, True),
        # b cannot while a's is valid
        ("b", T0 + 1000, False),
        # a renews its own
        ("a", T0 + 5000, True),
        # still a's: the renewal moved the expiry to T0 + 15 s
        ("b", T0 + 14_999, False),
        # a stopped renewing (it died): b takes over after expiry
        ("b", T0 + 15_001, True),
        # and a, back, is refused
        ("a", T0 + 16_000, False),
    ]
    got = [(holder, now, acquire(engine, holder, now)) for holder, now, _ in steps]
    assert got == steps
    with engine.connect() as conn:
        assert lease.current_holder(conn, name=lease.EVALUATOR, now=T0 + 16_000) == "b"
        assert lease.current_holder(conn, name=lease.EVALUATOR, now=T0 + 15_001 + TTL + 1) is None


def test_release_hands_over_at_once(engine: Engine) -> None:
    assert acquire(engine, "a", T0)
    lease.release(engine, name=lease.EVALUATOR, holder="a")
    assert acquire(engine, "b", T0 + 1)


def test_writes_of_a_lost_lease_are_refused(engine: Engine) -> None:
    assert acquire(engine, "a", T0)
    # a pauses past its lease; b takes over
    assert acquire(engine, "b", T0 + TTL + 1)
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE: True})
        with pytest.raises(lease.LeaseLost) as info, conn.begin():
            lease.hold(conn, name=lease.EVALUATOR, holder="a", now=T0 + TTL + 2, ttl_ms=TTL)
        assert str(info.value).startswith("lease 'alert-evaluator' is no longer held by a")
        with conn.begin():
            lease.hold(conn, name=lease.EVALUATOR, holder="b", now=T0 + TTL + 2, ttl_ms=TTL)


def test_racing_servers_get_one_lease(engine: Engine) -> None:
    barrier = threading.Barrier(8)
    won: list[str] = []

    def server(name: str) -> None:
        barrier.wait()
        if acquire(engine, name, T0):
            won.append(name)

    threads = [threading.Thread(target=server, args=(f"s{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(won) == 1
    with engine.connect() as conn:
        assert lease.current_holder(conn, name=lease.EVALUATOR, now=T0) == won[0]
