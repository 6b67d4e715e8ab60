"""De-duplication: once on firing, again after the repeat interval, once on recovery."""

from __future__ import annotations

import dataclasses

import pytest

from analytics.alerting.dedup import notification_due
from analytics.alerting.states import Alert

NOW = 1_735_819_200_000
REPEAT = 4 * 3600 * 1000
BASE = Alert(
    fingerprint="00aa11bb22cc33dd",
    rule="r",
    fleet="f",
    severity="warning",
    state="firing",
    labels={},
    summary="s",
    value=None,
    active_since=NOW,
    last_evaluated_at=NOW,
    evaluated_by="a",
)


@pytest.mark.parametrize(
    ("state", "notified_state", "last_notified_at", "muted", "expected"),
    [
        # newly firing: notify
        ("firing", None, None, False, "firing"),
        # already told it fires: quiet
        ("firing", "firing", NOW - 1000, False, None),
        # told it fires a repeat interval ago: again
        ("firing", "firing", NOW - REPEAT, False, "firing"),
        # just short of the repeat interval: quiet
        ("firing", "firing", NOW - REPEAT + 1, False, None),
        # firing again after a resolution: notify
        ("firing", "resolved", NOW - 1000, False, "firing"),
        # muted by a silence: quiet
        ("firing", None, None, True, None),
        # muted, and the repeat is due: still quiet
        ("firing", "firing", NOW - REPEAT, True, None),
        # resolved after a firing notification: tell the recovery
        ("resolved", "firing", NOW - 1000, False, "resolved"),
        # resolved, and a silence matches: the recovery is still told
        ("resolved", "firing", NOW - 1000, True, "resolved"),
        # resolved after being muted the whole time: nobody was told, so quiet
        ("resolved", None, None, False, None),
        # the recovery was told already
        ("resolved", "resolved", NOW - 1000, False, None),
        # pending alerts are never notified
        ("pending", None, None, False, None),
        # nor inactive ones
        ("inactive", None, None, False, None),
    ],
)
def test_notification_due(
    state: str,
    notified_state: str | None,
    last_notified_at: int | None,
    muted: bool,
    expected: str | None,
) -> None:
    alert = dataclasses.replace(
        BASE, state=state, notified_state=notified_state, last_notified_at=last_notified_at
    )
    assert notification_due(alert, now=NOW, repeat_interval_ms=REPEAT, muted=muted) == expected
