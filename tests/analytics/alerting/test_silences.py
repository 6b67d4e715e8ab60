"""Silences: matcher syntax, matching, fleets, times, and the store."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from analytics.alerting.queries import list_silences
from analytics.alerting.silences import (
    BadSilence,
    Matcher,
    Silence,
    active_silences,
    create_silence,
    expire_silence,
    muted_by,
    parse_matcher,
    update_silence,
)
from analytics.alerting.times import from_ms

NOW = 1_735_819_200_000
HOUR = 3_600_000
LABELS = {
    "alertname": "segment_degraded",
    "fleet": "robots",
    "tier": "device",
    "severity": "critical",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # equality
        ("tier=device", Matcher("tier", "=", "device")),
        # inequality
        ("tier!=cloud", Matcher("tier", "!=", "cloud")),
        # regular expressions
        ("alertname=~segment_.*", Matcher("alertname", "=~", "segment_.*")),
        ("alertname!~privacy.*", Matcher("alertname", "!~", "privacy.*")),
        # quotes and spaces around the value are dropped
        ('tier = "device"', Matcher("tier", "=", "device")),
        # an empty value matches a missing label
        ("team=", Matcher("team", "=", "")),
    ],
)
def test_parse_matcher(text: str, expected: Matcher) -> None:
    assert parse_matcher(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # no operator
        (
            "tier",
            "invalid matcher 'tier': A silence needs matchers like name=value, name!=value, name=~regex or name!~regex.",
        ),
        # a bad label name
        ("1tier=x", "invalid label name '1tier' in a matcher"),
        # a bad regular expression
        (
            "tier=~(",
            "invalid regular expression '(' for tier: missing ), unterminated subpattern at position 0",
        ),
    ],
)
def test_parse_matcher_refuses(text: str, message: str) -> None:
    with pytest.raises(BadSilence) as info:
        parse_matcher(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("matchers", "expected"),
    [
        # every matcher must match
        (["tier=device", "fleet=robots"], True),
        (["tier=device", "fleet=cameras"], False),
        # regular expressions match the whole value
        (["alertname=~segment_.*"], True),
        (["alertname=~segment"], False),
        # negative matchers
        (["tier!=cloud"], True),
        (["alertname!~segment_.*"], False),
        # a label the alert does not have is the empty string
        (["team="], True),
        (["team=mobile"], False),
    ],
)
def test_matching(matchers: list[str], expected: bool) -> None:
    silence = Silence(
        id=1, matchers=tuple(parse_matcher(m) for m in matchers), starts_at=NOW, ends_at=NOW + HOUR
    )
    assert silence.mutes(LABELS, fleet="robots", now=NOW) is expected


@pytest.mark.parametrize(
    ("starts", "ends", "fleet", "alert_fleet", "now", "expected"),
    [
        # in force
        (NOW, NOW + HOUR, None, "robots", NOW, True),
        # not started yet
        (NOW + 1, NOW + HOUR, None, "robots", NOW, False),
        # ended (the end is exclusive)
        (NOW - HOUR, NOW, None, "robots", NOW, False),
        # a fleet's silence mutes that fleet
        (NOW, NOW + HOUR, "robots", "robots", NOW, True),
        # and no other
        (NOW, NOW + HOUR, "cameras", "robots", NOW, False),
    ],
)
def test_times_and_fleets(
    starts: int, ends: int, fleet: str | None, alert_fleet: str, now: int, expected: bool
) -> None:
    silence = Silence(
        id=1,
        matchers=(Matcher("tier", "=", "device"),),
        starts_at=starts,
        ends_at=ends,
        fleet=fleet,
    )
    assert silence.mutes(LABELS, fleet=alert_fleet, now=now) is expected


def test_first_muting_silence_is_named() -> None:
    silences = [
        Silence(id=1, matchers=(Matcher("tier", "=", "edge"),), starts_at=NOW, ends_at=NOW + HOUR),
        Silence(
            id=2, matchers=(Matcher("tier", "=", "device"),), starts_at=NOW, ends_at=NOW + HOUR
        ),
    ]
    found = muted_by(silences, LABELS, fleet="robots", now=NOW)
    assert found is not None and found.id == 2
    assert muted_by(silences[:1], LABELS, fleet="robots", now=NOW) is None


def test_store(engine: Engine) -> None:
    with engine.begin() as conn:
        first = create_silence(
            conn,
            matchers=[parse_matcher("tier=device")],
            starts_at=NOW,
            ends_at=NOW + HOUR,
            created_by="ana",
            comment="rollout",
            fleet=None,
            now=NOW,
        )
        second = create_silence(
            conn,
            matchers=[parse_matcher("alertname=~privacy.*")],
            starts_at=NOW,
            ends_at=NOW + 2 * HOUR,
            created_by="bo",
            comment="audit",
            fleet="robots",
            now=NOW,
        )
    with engine.connect() as conn:
        assert [s.id for s in active_silences(conn, now=NOW)] == [first, second]
        frame = list_silences(conn, fleet="cameras", now=from_ms(NOW))
        # another fleet sees the silences for every fleet, not robots' own
        assert frame["id"].tolist() == [first]
        assert frame.loc[0, "matchers"] == [{"name": "tier", "op": "=", "value": "device"}]
        assert (
            frame.loc[0, "created_by"],
            frame.loc[0, "comment"],
            bool(frame.loc[0, "active"]),
        ) == ("ana", "rollout", True)
    with engine.begin() as conn:
        # a fleet may not end another's (or a global) silence
        assert expire_silence(conn, silence_id=first, fleet="robots", now=NOW + 1) is False
        assert expire_silence(conn, silence_id=first, fleet=None, now=NOW + 1) is True
        assert (
            update_silence(conn, silence_id=second, fleet="robots", now=NOW, comment="audit 2")
            is True
        )
    with engine.connect() as conn:
        assert [s.id for s in active_silences(conn, now=NOW + 1)] == [second]
        frame = list_silences(conn, fleet=None, now=from_ms(NOW + 1))
        assert frame["id"].tolist() == [second, first]
        assert frame["active"].tolist() == [True, False]
        assert frame["comment"].tolist() == ["audit 2", "rollout"]
        assert list_silences(conn, fleet=None, active_only=True, now=from_ms(NOW + 1))[
            "id"
        ].tolist() == [second]


@pytest.mark.parametrize(
    ("matchers", "starts", "ends", "message"),
    [
        # nothing to match
        ([], NOW, NOW + HOUR, "a silence needs at least one matcher"),
        # a silence of everything
        (
            ["team="],
            NOW,
            NOW + HOUR,
            "every matcher matches an empty label, so the silence would mute every alert",
        ),
        # backwards
        (["tier=device"], NOW, NOW - 1, "a silence must end after it starts"),
        # already over
        (["tier=device"], NOW - 2 * HOUR, NOW - HOUR, "a silence must end in the future"),
    ],
)
def test_store_refuses(
    engine: Engine, matchers: list[str], starts: int, ends: int, message: str
) -> None:
    with engine.begin() as conn, pytest.raises(BadSilence) as info:
        create_silence(
            conn,
            matchers=[parse_matcher(m) for m in matchers],
            starts_at=starts,
            ends_at=ends,
            created_by="ana",
            comment="x",
            fleet=None,
            now=NOW,
        )
    assert str(info.value) == message
