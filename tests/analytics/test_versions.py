"""Version drift and canaries: version order, device summaries and which versions are compared."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from analytics import aggregates
from analytics.aggregates import SUM_INDEX, Aggregates
from analytics.canary import canary_pairs, reference_version, shared_totals
from analytics.config import AnalyticsSettings
from analytics.histograms import LATENCY_VALUES, latency_row, quantiles
from analytics.metrics import Grouping, grouping
from analytics.version_order import newest, version_key
from analytics.versions import StuckDevice, VersionShare, canary_comparisons, summarise_devices
from collector.schema import DEVICES
from tests.analytics.synthetic import Profile, sample_aggregates, segment_key, segments_frame

NOW = 1_738_000_800  # 2025-01-27T18:00:00Z
HOUR = 3600
SETTINGS = AnalyticsSettings()


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


# -- version order ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("2.9.1", "2.10.0"),  # numbers compare as numbers, not text
        ("1.0", "1.0.1"),  # a longer version with the same prefix is newer
        ("1.9", "1.10"),  # two-part versions
        ("v1.2", "v1.10"),  # a common word prefix
        ("10", "11"),  # single numbers
    ],
)
def test_version_key_orders_naturally(lower: str, higher: str) -> None:
    assert version_key(lower) < version_key(higher)
    assert newest([higher, lower]) == higher
    assert newest([lower, higher]) == higher


@pytest.mark.parametrize(
    ("version", "key"),
    [
        ("2.10.0", ((1, 2, ""), (1, 10, ""), (1, 0, ""))),  # numbers
        ("v1.2-RC3", ((0, 0, "v"), (1, 1, ""), (1, 2, ""), (0, 0, "rc"), (1, 3, ""))),  # words
        ("", ()),  # no version sorts before every version
    ],
)
def test_version_key(version: str, key: tuple[tuple[int, int, str], ...]) -> None:
    assert version_key(version) == key


def test_version_key_ignores_case() -> None:
    assert version_key("1.0-RC1") == version_key("1.0-rc1")


@pytest.mark.parametrize(
    ("versions", "expected"),
    [
        (["2.9.1", "2.10.0", "2.1"], "2.10.0"),  # natural order, not text order
        (["", "1.0"], "1.0"),  # an unknown (empty) version is never the newest
        ([""], None),  # only unknown versions
        ([], None),  # no versions
    ],
)
def test_newest(versions: list[str], expected: str | None) -> None:
    assert newest(versions) == expected


# -- canary.reference_version -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "traffic", "expected"),
    [
        ("2.2.0", {"2.0.0": 10, "2.1.0": 50, "2.2.0": 5}, "2.1.0"),  # most traffic of the earlier
        ("2.2.0", {"2.0.0": 50, "2.1.0": 10}, "2.0.0"),  # traffic wins over recency
        ("2.2.0", {"2.0.0": 10, "2.1.0": 10}, "2.1.0"),  # a tie goes to the newer
        ("2.2.0", {"2.1.0": 0, "2.0.0": 3}, "2.0.0"),  # a version without traffic is not one
        ("2.2.0", {"": 100, "2.1.0": 1}, "2.1.0"),  # an unknown version is never one
        ("2.10.0", {"2.9.0": 1}, "2.9.0"),  # earlier in natural order
        ("2.9.0", {"2.10.0": 1}, None),  # later in natural order
        ("2.1.0", {"2.1.0": 50, "2.2.0": 100}, None),  # only itself and newer versions
        ("2.1.0", {}, None),  # no traffic at all
    ],
)
def test_reference_version(version: str, traffic: dict[str, float], expected: str | None) -> None:
    assert reference_version(version, traffic) == expected


# -- canary.shared_totals ---------------------------------------------------------------------

STRATA_KEYS = [
    segment_key(model_version="2.2.0", device_model="pixel-7"),  # 1
    segment_key(model_version="2.2.0", device_model="pixel-7", app_version="5.1"),  # 2
    segment_key(model_version="2.2.0", device_model="galaxy-a14"),  # 3
    segment_key(model_version="2.1.0", device_model="pixel-7"),  # 4
    segment_key(model_version="2.1.0", device_model="moto-g"),  # 5
    segment_key(model_version="2.1.0", device_model="galaxy-a14"),  # 6
]
STRATA_SEGMENTS = segments_frame(STRATA_KEYS)


def _window(rows: dict[int, tuple[int, int, float]]) -> Aggregates:
    """Per-segment-id aggregates: ``{id: (attempts, errors, latency_ms of each)}``."""
    labels = sorted(rows)
    out = aggregates.empty(labels)
    for i, label in enumerate(labels):
        attempts, errors, latency = rows[label]
        out.sums[i, SUM_INDEX["attempts"]] = attempts
        out.sums[i, SUM_INDEX["errors"]] = errors
        out.sums[i, SUM_INDEX["latency_ms_sum"]] = attempts * latency
        out.latency[i] = latency_row([latency] * attempts)
    return out


def test_shared_totals_sum_both_sides_over_the_strata_both_run() -> None:
    window = _window(
        {
            1: (100, 5, 100.0),
            2: (40, 4, 100.0),
            3: (70, 7, 100.0),
            4: (300, 6, 200.0),
            5: (80, 1, 200.0),
            6: (0, 0, 200.0),  # 2.1.0 has no window attempts on galaxy-a14
        }
    )
    mine, theirs, shared = shared_totals(STRATA_SEGMENTS, window, [1, 2, 3], [4, 5, 6])
    # pixel-7 is the one stratum both run (app versions are not strata)
    assert shared == 1
    assert (mine.column("attempts")[0], mine.column("errors")[0]) == (140, 9)
    assert (theirs.column("attempts")[0], theirs.column("errors")[0]) == (300, 6)
    assert (mine.latency[0] == latency_row([100.0] * 140)).all()
    assert (theirs.latency[0] == latency_row([200.0] * 300)).all()


def test_shared_totals_without_a_shared_stratum_are_zero() -> None:
    window = _window({3: (70, 7, 100.0), 5: (80, 1, 200.0)})
    mine, theirs, shared = shared_totals(STRATA_SEGMENTS, window, [3], [5])
    assert shared == 0
    assert mine.sums.tolist() == [[0.0] * mine.sums.shape[1]]
    assert theirs.sums.tolist() == [[0.0] * theirs.sums.shape[1]]


# -- canary.canary_pairs ----------------------------------------------------------------------

PAIR_KEYS = [
    segment_key(device_model=m, model_version=v)
    for m in ("pixel-7", "galaxy-a14")
    for v in ("2.0.0", "2.1.0", "2.2.0")
]
PAIR_SEGMENTS = segments_frame(PAIR_KEYS)


def _pairs(
    groups: Grouping,
    window: dict[tuple[str, ...], int],
    baseline: dict[tuple[str, ...], int],
    *,
    min_attempts: int = 100,
    segments: pd.DataFrame = PAIR_SEGMENTS,
) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """``canary_pairs`` with attempts given per group key, answered as group keys."""
    keys = [tuple(str(v) for v in row) for row in groups.keys.itertuples(index=False)]
    n = len(keys)
    pairs = canary_pairs(
        groups,
        segments,
        window_attempts=np.array([window.get(k, 0) for k in keys], dtype=float),
        baseline_attempts=np.array([baseline.get(k, 0) for k in keys], dtype=float),
        min_attempts=np.full(n, min_attempts),
    )
    return [(keys[a], keys[b]) for a, b in pairs]


BY = ("device_model", "model_version")


@pytest.mark.parametrize(
    ("window", "baseline", "expected"),
    [
        # each version against the earlier one that carried the most baseline traffic
        (
            {("pixel-7", "2.0.0"): 500, ("pixel-7", "2.1.0"): 500, ("pixel-7", "2.2.0"): 500},
            {("pixel-7", "2.0.0"): 100, ("pixel-7", "2.1.0"): 900},
            [
                (("pixel-7", "2.1.0"), ("pixel-7", "2.0.0")),
                (("pixel-7", "2.2.0"), ("pixel-7", "2.1.0")),
            ],
        ),
        # the dominant version is the oldest: both later versions are compared with it
        (
            {("pixel-7", "2.0.0"): 500, ("pixel-7", "2.1.0"): 500, ("pixel-7", "2.2.0"): 500},
            {("pixel-7", "2.0.0"): 900, ("pixel-7", "2.1.0"): 100},
            [
                (("pixel-7", "2.1.0"), ("pixel-7", "2.0.0")),
                (("pixel-7", "2.2.0"), ("pixel-7", "2.0.0")),
            ],
        ),
        # a version with too few window attempts is neither compared nor a reference
        (
            {("pixel-7", "2.0.0"): 500, ("pixel-7", "2.1.0"): 99, ("pixel-7", "2.2.0"): 500},
            {("pixel-7", "2.0.0"): 100, ("pixel-7", "2.1.0"): 900},
            [(("pixel-7", "2.2.0"), ("pixel-7", "2.0.0"))],
        ),
        # no baseline traffic at all: the window's traffic decides
        (
            {("pixel-7", "2.0.0"): 800, ("pixel-7", "2.1.0"): 200, ("pixel-7", "2.2.0"): 300},
            {},
            [
                (("pixel-7", "2.1.0"), ("pixel-7", "2.0.0")),
                (("pixel-7", "2.2.0"), ("pixel-7", "2.0.0")),
            ],
        ),
        # siblings differ only in model_version: galaxy versions are never paired with pixel ones
        (
            {("pixel-7", "2.1.0"): 500, ("galaxy-a14", "2.2.0"): 500},
            {("pixel-7", "2.1.0"): 900},
            [],
        ),
        # each hardware class pairs its own versions
        (
            {
                ("pixel-7", "2.1.0"): 500,
                ("pixel-7", "2.2.0"): 500,
                ("galaxy-a14", "2.0.0"): 500,
                ("galaxy-a14", "2.2.0"): 500,
            },
            {("pixel-7", "2.1.0"): 900, ("galaxy-a14", "2.0.0"): 900},
            [
                (("galaxy-a14", "2.2.0"), ("galaxy-a14", "2.0.0")),
                (("pixel-7", "2.2.0"), ("pixel-7", "2.1.0")),
            ],
        ),
        # the only version in the window has nothing to be compared with
        ({("pixel-7", "2.2.0"): 500}, {("pixel-7", "2.1.0"): 900}, []),
    ],
)
def test_canary_pairs(
    window: dict[tuple[str, ...], int],
    baseline: dict[tuple[str, ...], int],
    expected: list[tuple[tuple[str, ...], tuple[str, ...]]],
) -> None:
    assert _pairs(grouping(PAIR_SEGMENTS, BY), window, baseline) == expected


def test_no_canaries_unless_split_by_model_version() -> None:
    groups = grouping(PAIR_SEGMENTS, ("device_model",))
    assert _pairs(groups, {("pixel-7",): 500, ("galaxy-a14",): 500}, {}) == []


def test_no_canaries_for_segments_spanning_several_models() -> None:
    keys = [segment_key(model=m, model_version=v) for m in ("tagger", "ranker") for v in ("1", "2")]
    segments = segments_frame(keys)
    groups = grouping(segments, ("model_version",))
    # each version segment holds both models: which model's version would it be?
    assert _pairs(groups, {("1",): 500, ("2",): 500}, {("1",): 900}, segments=segments) == []
    # split by model too, each model's versions pair up
    groups = grouping(segments, ("model", "model_version"))
    window = {
        ("ranker", "1"): 500,
        ("ranker", "2"): 500,
        ("tagger", "1"): 500,
        ("tagger", "2"): 500,
    }
    assert _pairs(groups, window, {}, segments=segments) == [
        (("ranker", "2"), ("ranker", "1")),
        (("tagger", "2"), ("tagger", "1")),
    ]


# -- versions.summarise_devices ---------------------------------------------------------------


def _devices(*rows: tuple[str, str, int, int]) -> pd.DataFrame:
    """Device states: ``(device_id, model_version, version_since, last_seen)`` each."""
    return pd.DataFrame(
        [
            {
                "fleet": "fleet-a",
                "device_id": device,
                "model": "tagger",
                "model_version": version,
                "device_model": "pixel-7",
                "app_version": "5.0",
                "first_seen": since - HOUR,
                "last_seen": seen,
                "version_since": since,
            }
            for device, version, since, seen in rows
        ],
        columns=[c.name for c in DEVICES.columns],
    )


def test_summarise_devices_when_the_fleet_moved_on() -> None:
    devices = _devices(
        ("d1", "2.2.0", NOW - 100 * HOUR, NOW - 1 * HOUR),
        ("d2", "2.2.0", NOW - 90 * HOUR, NOW - 1 * HOUR),
        ("d3", "2.2.0", NOW - 80 * HOUR, NOW - 2 * HOUR),
        ("d4", "2.1.0", NOW - 300 * HOUR, NOW - 2 * HOUR),
        ("d5", "2.0.0", NOW - 400 * HOUR, NOW - 3 * HOUR),
        # newer, but not seen for 30 hours: not active, so not the newest
        ("d6", "2.3.0", NOW - 50 * HOUR, NOW - 30 * HOUR),
    )
    top, active, skew, shares, stuck, stuck_count = summarise_devices(
        devices, now=NOW, settings=SETTINGS
    )
    assert (top, active, skew, stuck_count) == ("2.2.0", 5, 0.4, 2)
    assert shares == [
        VersionShare("2.3.0", 0, 0.0, 0, _at(NOW - 50 * HOUR)),
        VersionShare("2.2.0", 3, 0.6, 0, _at(NOW - 100 * HOUR)),
        VersionShare("2.1.0", 1, 0.2, 0, _at(NOW - 300 * HOUR)),
        VersionShare("2.0.0", 1, 0.2, 0, _at(NOW - 400 * HOUR)),
    ]
    # the longest stuck first
    assert stuck == [
        StuckDevice("d5", "pixel-7", "5.0", "2.0.0", _at(NOW - 400 * HOUR), _at(NOW - 3 * HOUR)),
        StuckDevice("d4", "pixel-7", "5.0", "2.1.0", _at(NOW - 300 * HOUR), _at(NOW - 2 * HOUR)),
    ]


@pytest.mark.parametrize(
    ("newest_since_hours", "on_newest", "stuck"),
    [
        (100, 3, ["d5", "d4"]),  # moved on long ago: the others are stuck, longest first
        (72, 3, ["d5", "d4"]),  # exactly stuck_after_hours
        (71, 3, []),  # the newest version appeared too recently
        (100, 2, []),  # 2 of 5 on the newest (40%): the fleet has not moved on
        (100, 1, []),  # one canary device is not a moved-on fleet
    ],
)
def test_stuck_devices(newest_since_hours: int, on_newest: int, stuck: list[str]) -> None:
    rows = [
        (f"n{i}", "2.2.0", NOW - newest_since_hours * HOUR, NOW - HOUR) for i in range(on_newest)
    ]
    rows += [(f"o{i}", "2.1.0", NOW - 200 * HOUR, NOW - HOUR) for i in range(3 - on_newest)]
    rows += [
        ("d4", "2.1.0", NOW - 300 * HOUR, NOW - HOUR),
        ("d5", "2.0.0", NOW - 400 * HOUR, NOW - HOUR),
    ]
    *_, listed, count = summarise_devices(_devices(*rows), now=NOW, settings=SETTINGS)
    assert ([d.device_id for d in listed], count) == (stuck, len(stuck))


def test_stuck_after_hours_and_moved_on_share_are_read() -> None:
    devices = _devices(
        ("d1", "2.2.0", NOW - 10 * HOUR, NOW - HOUR),
        ("d2", "2.1.0", NOW - 300 * HOUR, NOW - HOUR),
        ("d3", "2.1.0", NOW - 300 * HOUR, NOW - HOUR),
    )
    settings = AnalyticsSettings(stuck_after_hours=8, moved_on_share=0.3)
    *_, listed, count = summarise_devices(devices, now=NOW, settings=settings)
    assert ([d.device_id for d in listed], count) == (["d2", "d3"], 2)
    assert summarise_devices(devices, now=NOW, settings=SETTINGS)[-1] == 0


def test_summarise_devices_without_active_devices() -> None:
    devices = _devices(
        ("d1", "2.2.0", NOW - 100 * HOUR, NOW - 25 * HOUR),
        ("d2", "2.1.0", NOW - 300 * HOUR, NOW - 48 * HOUR),
    )
    top, active, skew, shares, stuck, stuck_count = summarise_devices(
        devices, now=NOW, settings=SETTINGS
    )
    # the newest version of any device, no share, no skew, nobody stuck
    assert (top, active, skew, stuck, stuck_count) == ("2.2.0", 0, None, [], 0)
    assert [(s.version, s.devices, s.share) for s in shares] == [
        ("2.2.0", 0, None),
        ("2.1.0", 0, None),
    ]


def test_active_hours_decide_who_is_active() -> None:
    devices = _devices(
        ("d1", "2.2.0", NOW - 100 * HOUR, NOW - 24 * HOUR),  # exactly active_hours ago
        ("d2", "2.1.0", NOW - 300 * HOUR, NOW - 24 * HOUR - 1),  # one second more
    )
    top, active, skew, *_ = summarise_devices(devices, now=NOW, settings=SETTINGS)
    assert (top, active, skew) == ("2.2.0", 1, 0.0)
    top, active, skew, *_ = summarise_devices(
        devices, now=NOW, settings=AnalyticsSettings(active_hours=25)
    )
    assert (top, active, skew) == ("2.2.0", 2, 0.5)


# -- versions.canary_comparisons --------------------------------------------------------------

CANARY_KEYS = [
    segment_key(device_model="pixel-7", model_version="2.1.0"),  # 1
    segment_key(device_model="galaxy-a14", model_version="2.1.0"),  # 2
    segment_key(device_model="pixel-7", model_version="2.2.0"),  # 3
    segment_key(device_model="moto-g", model_version="2.2.0"),  # 4
    segment_key(device_model="pixel-7", model_version="2.0.0"),  # 5
]
CANARY_SEGMENTS = segments_frame(CANARY_KEYS)


def _canary_window(bad: Profile | None = None, seed: int = 3) -> Aggregates:
    good = Profile(attempts=20_000)
    profiles = {1: good, 2: good, 3: bad or good, 4: good, 5: good}
    return sample_aggregates(profiles, np.random.default_rng(seed))


def test_canary_comparisons_match_the_strata_both_versions_run() -> None:
    window = _canary_window(Profile(attempts=20_000, error_rate=0.20, latency_median_ms=240.0))
    comparisons = {
        c.version: c
        for c in canary_comparisons(CANARY_SEGMENTS, window, dominant="2.1.0", settings=SETTINGS)
    }
    canary = comparisons["2.2.0"]
    assert (canary.reference_version, canary.segments) == ("2.1.0", 1)
    # only pixel-7 is shared: moto-g (2.2.0 only) and galaxy-a14 (2.1.0 only) are left out
    assert canary.metrics["attempts"] == 20_000
    assert canary.reference_metrics["attempts"] == 20_000
    assert canary.metrics["errors"] == int(window.row(3).column("errors")[0])
    assert canary.reference_metrics["errors"] == int(window.row(1).column("errors")[0])
    assert canary.status == "degraded"
    assert [(f.metric, f.severity, f.reference) for f in canary.findings] == [
        ("error_rate", "degraded", "model_version 2.1.0"),
        ("latency_p50_ms", "degraded", "model_version 2.1.0"),
    ]


def test_canary_comparisons_of_equal_versions_are_ok() -> None:
    comparisons = canary_comparisons(
        CANARY_SEGMENTS, _canary_window(), dominant="2.1.0", settings=SETTINGS
    )
    assert {c.version: (c.status, c.findings) for c in comparisons}["2.2.0"] == ("ok", [])


def test_canary_comparisons_need_min_attempts_on_both_sides() -> None:
    profiles = {1: Profile(attempts=99), 3: Profile(attempts=20_000)}
    window = sample_aggregates(profiles, np.random.default_rng(0))
    (canary,) = canary_comparisons(CANARY_SEGMENTS, window, dominant="2.1.0", settings=SETTINGS)
    assert (canary.version, canary.status, canary.findings) == ("2.2.0", "insufficient_data", [])
    assert (canary.metrics["attempts"], canary.reference_metrics["attempts"]) == (20_000, 99)


def test_canary_comparisons_without_the_dominant_version_in_the_window() -> None:
    window = sample_aggregates({3: Profile(attempts=500)}, np.random.default_rng(0))
    assert canary_comparisons(CANARY_SEGMENTS, window, dominant="2.1.0", settings=SETTINGS) == []


def test_canary_comparisons_compare_only_versions_newer_than_the_reference() -> None:
    comparisons = canary_comparisons(
        CANARY_SEGMENTS, _canary_window(), dominant="2.1.0", settings=SETTINGS
    )
    # 2.0.0 is older than 2.1.0: it is not a canary of it
    assert [(c.version, c.reference_version) for c in comparisons] == [("2.2.0", "2.1.0")]


def test_shared_totals_weigh_the_reference_to_the_canarys_mix() -> None:
    # the new version runs mostly on a slow hardware class, the old one mostly on a fast
    # one; per class both behave the same, so the reweighted sides match
    keys = [
        segment_key(device_model=model, model_version=version)
        for version in ("2.2.0", "2.1.0")
        for model in ("slow-class", "fast-class")
    ]
    segments = segments_frame(keys)
    slow, fast = Profile(attempts=0, latency_median_ms=300.0), Profile(attempts=0)
    window = sample_aggregates(
        {
            1: dataclasses.replace(slow, attempts=9_000),
            2: dataclasses.replace(fast, attempts=1_000),
            3: dataclasses.replace(slow, attempts=1_000),
            4: dataclasses.replace(fast, attempts=9_000),
        },
        np.random.default_rng(0),
    )
    mine, theirs, shared = shared_totals(segments, window, [1, 2], [3, 4])
    assert shared == 2
    # the reference counts for its effective size: 10,000 attempts reweighted 9:1 count as
    # (9,000 + 1,000)^2 / (9^2 * 1,000 + (1/9)^2 * 9,000) = about 1,220
    assert theirs.column("attempts")[0] == pytest.approx(1e8 / (81_000 + 9_000 / 81))
    # unweighted, the reference's median would sit near the fast class's 120 ms
    p50 = [float(quantiles(a.latency, (0.5,), LATENCY_VALUES)[0, 0]) for a in (mine, theirs)]
    assert p50[0] > 250
    assert p50[1] == pytest.approx(p50[0], rel=0.05)
