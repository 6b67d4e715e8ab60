"""Read API responses, byte for byte, as recorded before analytics' own types were returned.

The routers answer with fixed analytics results (:mod:`fixed_results`) instead of
the stored data's, so these bodies pin the JSON alone: names, key order, ISO 8601
times with ``Z``, integer counts against floats, nulls.
"""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import Engine

import analytics.health
from tests.tierwatch.api import fixed_results
from tierwatch.api import health, tiers, timeseries, versions
from tierwatch.cli import main

HEALTH = (
    b'{"window":{"start":"2025-01-02T11:00:00Z","end":"2025-01-02T12:00:00Z"},"baseline":{"start":"2025-01-01T11:00:00Z",'
    b'"end":"2025-01-02T11:00:00Z"},"by":["tier","device_model"],"fleet":"fleet-a","tests":12,'
    b'"fdr":0.05,"status_counts":{"ok":0,"warn":0,"degraded":1,"insufficient_data":1},"warnings":[],"segments":[{"key":{"tier":"device",'
    b'"device_model":"galaxy-a14"},"status":"degraded","metrics":{"attempts":480,"error_rate":0.2,'
    b'"latency_p95_ms":null},"baseline_metrics":{"attempts":1920,"error_rate":0.03,"latency_p95_ms":150.0},'
    b'"findings":[{"metric":"error_rate","window_value":0.2,"baseline_value":0.03,"relative_change":5.666666666666667,'
    b'"p_value":1e-9,"p_adjusted":2.5e-8,"severity":"degraded","explanation":"error rate 20.0% vs 3.00% baseline (+567%),'
    b' p<0.001","direction":"worse","test":"chi2_2x2","effect_size":null,"reference":"baseline",'
    b'"attribution":[{"key":{"device_model":"galaxy-a14"},"window_value":0.31,"baseline_value":null,'
    b'"share":0.875,"window_attempts":120}]},{"metric":"latency_p95_ms","window_value":120.0,'
    b'"baseline_value":150.0,"relative_change":-0.2,"p_value":0.0004,"p_adjusted":0.0016,"severity":"ok",'
    b'"explanation":"p95 latency 120 ms vs 150 ms baseline (-20%), p=0.002","direction":"better",'
    b'"test":"chi2_histogram","effect_size":0.31,"reference":"baseline","attribution":[]}],"requests":null},'
    b'{"key":{"tier":"edge","device_model":""},"status":"insufficient_data","metrics":{"attempts":3,'
    b'"error_rate":0.0,"latency_p95_ms":90.5},"baseline_metrics":{},"findings":[],"requests":null}]}'
)
FINDINGS = (
    b'{"window":{"start":"2025-01-02T11:00:00Z","end":"2025-01-02T12:00:00Z"},"baseline":{"start":"2025-01-01T11:00:00Z",'
    b'"end":"2025-01-02T11:00:00Z"},"by":["tier","device_model"],"findings":[{"metric":"error_rate",'
    b'"window_value":0.2,"baseline_value":0.03,"relative_change":5.666666666666667,"p_value":1e-9,'
    b'"p_adjusted":2.5e-8,"severity":"degraded","explanation":"error rate 20.0% vs 3.00% baseline (+567%),'
    b' p<0.001","direction":"worse","test":"chi2_2x2","effect_size":null,"reference":"baseline",'
    b'"attribution":[{"key":{"device_model":"galaxy-a14"},"window_value":0.31,"baseline_value":null,'
    b'"share":0.875,"window_attempts":120}],"key":{"tier":"device","device_model":"galaxy-a14"},'
    b'"status":"degraded"},{"metric":"latency_p95_ms","window_value":120.0,"baseline_value":150.0,'
    b'"relative_change":-0.2,"p_value":0.0004,"p_adjusted":0.0016,"severity":"ok","explanation":"p95 latency 120 ms vs 150 ms baseline (-20%),'
    b' p=0.002","direction":"better","test":"chi2_histogram","effect_size":0.31,"reference":"baseline",'
    b'"attribution":[],"key":{"tier":"device","device_model":"galaxy-a14"},"status":"degraded"}]}'
)
VERSIONS = (
    b'{"window":{"start":"2025-01-02T11:00:00Z","end":"2025-01-02T12:00:00Z"},"baseline":{"start":"2025-01-02T09:00:00Z",'
    b'"end":"2025-01-02T11:00:00Z"},"models":[{"fleet":"fleet-a","model":"tagger","newest_version":"2.2.0",'
    b'"dominant_version":"2.1.0","live_versions":2,"active_devices":20,"skew":0.75,"versions":[{"version":"2.2.0",'
    b'"devices":5,"share":0.25,"attempts":422,"first_seen":"2025-01-02T11:00:01.000005Z"},'
    b'{"version":"2.1.0","devices":15,"share":0.75,"attempts":1639,"first_seen":"2025-01-02T09:00:00Z"},'
    b'{"version":"2.3.0-rc1","devices":0,"share":null,"attempts":0,"first_seen":null}],"stuck_devices":1,'
    b'"stuck":[{"device_id":"d-17","device_model":"galaxy-a14","app_version":"5.1.0","model_version":"2.0.0",'
    b'"version_since":"2024-12-31T12:00:00Z","last_seen":"2025-01-02T11:30:00Z"}],"canaries":[{"version":"2.2.0",'
    b'"reference_version":"2.1.0","status":"warn","segments":2,"metrics":{"attempts":422,"quality_mean":0.81},'
    b'"reference_metrics":{"attempts":1639,"quality_mean":0.88},"findings":[{"metric":"quality_mean",'
    b'"window_value":0.81,"baseline_value":0.88,"relative_change":null,"p_value":null,"p_adjusted":null,'
    b'"severity":"warn","explanation":"mean quality 0.810 vs 0.880 on model_version 2.1.0 (-8%),'
    b' p=0.010","direction":"worse","test":"welch_t","effect_size":null,"reference":"model_version 2.1.0",'
    b'"attribution":[]}]}]}]}'
)
VERSION_SERIES = (
    b'{"fleet":"fleet-a","model":"tagger","step":3600,"points":[{"start":"2025-01-02T10:00:00Z",'
    b'"version":"2.1.0","devices":20,"device_share":1.0,"attempts":400,"attempt_share":1.0},'
    b'{"start":"2025-01-02T11:00:00Z","version":"2.1.0","devices":0,"device_share":null,"attempts":7,'
    b'"attempt_share":1.0},{"start":"2025-01-02T11:00:00Z","version":"2.2.0","devices":5,"device_share":1.0,'
    b'"attempts":0,"attempt_share":0.0}]}'
)
TIERS = (
    b'{"window":{"start":"2025-01-02T11:00:00.250000Z","end":"2025-01-02T12:00:00.250000Z"},'
    b'"comparisons":[{"fleet":"fleet-a","task":"photo-tag","tier":"device","local":{"attempts":480,'
    b'"quality_mean":null},"cloud":{"attempts":96,"quality_mean":0.93},"differences":[{"metric":"latency_p95_ms",'
    b'"local_value":80.0,"cloud_value":210.5,"difference":-130.5,"ci_low":-140.25,"ci_high":-120.0,'
    b'"p_value":1e-12},{"metric":"quality_mean","local_value":null,"cloud_value":0.93,"difference":null,'
    b'"ci_low":null,"ci_high":null,"p_value":null}],"cloud_escalation_rate":0.1,"shadow":{"pairs":40,'
    b'"values":38,"mean":0.9,"ci_low":0.8,"ci_high":0.95},"quality_source":"shadow_agreement"},'
    b'{"fleet":"fleet-a","task":"photo-tag","tier":"edge","local":{"attempts":0},"cloud":{"attempts":96},'
    b'"differences":[],"cloud_escalation_rate":null,"shadow":null,"quality_source":null}]}'
)
TIMESERIES = (
    b'{"key":{"fleet":"fleet-a","tier":"device"},"window":{"start":"2025-01-02T10:00:00Z",'
    b'"end":"2025-01-02T12:00:00Z"},"step":3600,"shadow":false,"points":[{"start":"2025-01-02T10:00:00Z",'
    b'"metrics":{"attempts":3,"errors":1,"error_rate":0.3333333333333333,"latency_p95_ms":80.0}},'
    b'{"start":"2025-01-02T11:00:00Z","metrics":{"attempts":0,"errors":0,"error_rate":null,'
    b'"latency_p95_ms":null}}]}'
)


#: What every finding gained after these bodies were recorded: its kind, what it was compared
#: with, its onset, the dimensions it spreads across and the sub-segment it concerns.
_NEW_FINDING_FIELDS = b',"kind":"change","baseline":null,"onset":null,"across":[],"subject":{}'


def _with_additions(body: bytes, *, baseline_kind: bool = True) -> bytes:
    """A recorded body with the fields added since: finding kinds and the baseline's kind."""
    body = re.sub(
        rb'("attribution":\[[^\[\]]*\])', lambda m: m.group(1) + _NEW_FINDING_FIELDS, body
    )
    if not baseline_kind:
        return body
    return body.replace(b'"baseline":{"start"', b'"baseline":{"kind":"preceding","start"')


HEALTH = _with_additions(HEALTH)
FINDINGS = _with_additions(FINDINGS)
VERSIONS = _with_additions(VERSIONS, baseline_kind=False)


@pytest.fixture
def fixed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The routers (and ``tierwatch report``) get the fixed results instead of the stored data's."""
    for module in (health, analytics.health):
        monkeypatch.setattr(module, "health_report", lambda conn, **_: fixed_results.REPORT)
    monkeypatch.setattr(versions, "version_drift", lambda conn, **_: [fixed_results.DRIFT])
    monkeypatch.setattr(versions, "version_series", lambda conn, **_: fixed_results.VERSION_SERIES)
    monkeypatch.setattr(tiers, "tier_comparison", lambda conn, **_: fixed_results.COMPARISONS)
    monkeypatch.setattr(timeseries, "segment_series", lambda conn, **_: fixed_results.SERIES)


@pytest.mark.parametrize(
    ("url", "body"),
    [
        # periods, counts and every segment with its findings
        ("/api/v1/health", HEALTH),
        # the findings flattened, each with its segment
        ("/api/v1/findings?severity=ok", FINDINGS),
        # drift with its times, stuck devices and canaries
        ("/api/v1/versions?window=1h&baseline=2h&end=2025-01-02T12:00:00Z", VERSIONS),
        # shares per bucket, a missing share as null
        (
            "/api/v1/versions/series?fleet=fleet-a&model=tagger&window=2h&end=2025-01-02T12:00:00Z&step=3600",
            VERSION_SERIES,
        ),
        # an end with milliseconds keeps its microseconds in the window
        ("/api/v1/tiers?window=1h&end=2025-01-02T12:00:00.250Z", TIERS),
        # the key in the order of the dimensions, counts as integers, empty rates as null
        (
            "/api/v1/timeseries?tier=device&fleet=fleet-a&window=2h&end=2025-01-02T12:00:00Z&step=3600",
            TIMESERIES,
        ),
    ],
)
def test_bodies_are_as_recorded(fixed: None, client: TestClient, url: str, body: bytes) -> None:
    response = client.get(url)
    assert response.status_code == 200, response.text
    assert response.content == body


def test_report_json_prints_the_health_body(fixed: None, db_url: str, engine: Engine) -> None:
    result = CliRunner().invoke(main, ["report", "--json", "--db", db_url])
    assert result.exit_code == 0, result.output
    assert result.output == json.dumps(json.loads(HEALTH), indent=2) + "\n"
