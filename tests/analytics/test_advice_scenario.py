"""The what-if against a fleet whose truth is known: the threshold-too-high scenario.

There a device answer is right with probability equal to its confidence and a
cloud answer with probability 0.95; the device threshold is 0.90. So for any
threshold t the mean quality of what the threshold decides is the mean over
those requests of ``c`` where ``c >= t`` and 0.95 elsewhere, and the local share
is the share with ``c >= t``: the simulator's own model, computed here from the
confidences it drew. The replay only sees the stored attempts and the labels.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import Engine

from analytics.advice import Advice, Goals
from analytics.advice_report import advice_report
from analytics.advice_rollups import fold_advice
from analytics.config import CostSettings, Price
from collector.normalise import Batch
from collector.store import Store
from simulator.router import PlannedAttempt, PlannedRequest
from simulator.scenario import NS, load_scenario
from tests.simulator.planned import plan, rows

END = 1_764_000_000 // 3600 * 3600
HOURS = 2
FLOOR = 0.9
#: How far the replay may be from the model: about three standard errors of its labels.
QUALITY_TOLERANCE = 0.02
PRICES = CostSettings([Price(tier="cloud", per_call=0.002)])


def _decided(requests: list[PlannedRequest]) -> np.ndarray:
    """Confidences of photo-tag device answers whose course the threshold decides.

    Those that fell back for low confidence, and those served that could have
    fallen back (not sensitive, not offline).
    """
    out = []
    for attempt in _device_answers(requests):
        stays = attempt.privacy == "sensitive" or attempt.network == "offline"
        if attempt.fallback_reason == "low_confidence" or (
            attempt.fallback_reason is None and not stays
        ):
            out.append(attempt.confidence)
    return np.array(out)


def _device_answers(requests: list[PlannedRequest]) -> list[PlannedAttempt]:
    return [
        a
        for r in requests
        if r.task.name == "photo-tag"
        for a in r.attempts
        if a.tier == "device" and a.confidence is not None and not a.shadow
    ]


def _model_quality(confidences: np.ndarray, threshold: float, cloud: float) -> float:
    return float(np.where(confidences >= threshold, confidences, cloud).mean())


@pytest.fixture
def advice_and_model(engine: Engine) -> tuple[Advice, np.ndarray, int]:
    scenario = load_scenario("threshold-too-high")
    requests = plan(scenario, start_ns=(END - HOURS * 3600) * NS, end_ns=END * NS)
    Store(engine).write(Batch(attempts=rows(requests, fleet=scenario.fleet)), received_ns=END * NS)
    assert fold_advice(engine, now=END + 3600) == HOURS
    with engine.connect() as conn:
        advice = advice_report(
            conn,
            task="photo-tag",
            start=datetime.fromtimestamp(END - HOURS * 3600, UTC),
            end=datetime.fromtimestamp(END, UTC),
            goals=Goals(quality_floor=FLOOR),
            prices=PRICES,
            fleet=scenario.fleet,
        )
    return advice, _decided(requests), len(_device_answers(requests))


def test_the_replay_matches_the_simulators_model(
    advice_and_model: tuple[Advice, np.ndarray, int],
) -> None:
    advice, decided, local = advice_and_model
    assert advice.tier == "device"
    # the router's threshold, read back from what fell back
    assert advice.current.threshold == 0.9
    # a few device answers came last, after a lost connection, and had nowhere to fall back
    assert advice.current_fit > 0.999
    for point in advice.curve[::5]:
        t = point.threshold
        assert point.local_share == pytest.approx((decided >= t).sum() / local, abs=1e-9)
        assert point.quality == pytest.approx(
            _model_quality(decided, t, 0.95), abs=QUALITY_TOLERANCE
        ), t
        # the model lies within the 95% interval, give or take the tolerance's slack
        assert point.quality_low - 0.01 <= _model_quality(decided, t, 0.95)
        assert _model_quality(decided, t, 0.95) <= point.quality_high + 0.01


def test_lowering_the_threshold_saves_money_at_the_floor(
    advice_and_model: tuple[Advice, np.ndarray, int],
) -> None:
    advice, decided, _ = advice_and_model
    grid = [k / 100 for k in range(101)]
    # the model's cheapest threshold: the lowest whose quality reaches the floor
    cheapest = min(t for t in grid if _model_quality(decided, t, 0.95) >= FLOOR)
    chosen = advice.recommended
    assert chosen is not None
    # the replay asks that the interval's lower end reach the floor: never below the model's
    assert cheapest <= chosen.threshold <= cheapest + 0.03
    assert chosen.threshold < advice.current.threshold
    assert chosen.cost_per_1k < advice.current.cost_per_1k
    assert chosen.quality_low >= FLOOR
    assert advice.reason.startswith(f"threshold {chosen.threshold:.2f} is the cheapest")
