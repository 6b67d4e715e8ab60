"""The dashboard in real headless Chromium, against a live server holding a degraded fleet.

One server (authentication on, alerting on with a local hook) holds the fleet of
:mod:`tests.dashboard.fleet`, sent through ``POST /v1/traces``, and a second
fleet the read token must not show. The browser signs in through the form, then
visits every page; each page's screenshot is written to ``build/screenshots/``
(``make screenshots`` copies them into ``docs/screenshots/``, which the README shows).
Every wait is for an element or a text, never for a fixed time.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from collector.auth import create_token
from tests.conftest import LiveServer, make_settings
from tests.dashboard import fleet
from tests.otlp import request, span
from tierwatch.app import create_app

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
CULPRIT = "tier=device|device_model=galaxy-a14|model_version=2.2.0"
WAIT = 30


@dataclass
class Deployment:
    """The live server and what the tests sign in with."""

    url: str
    read: str
    empty: str
    db_url: str
    hook_calls: list[bytes]


class _Hook(BaseHTTPRequestHandler):
    calls: list[bytes] = []

    def do_POST(self) -> None:
        self.calls.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


def _until(what: str, check: Callable[[], Any], timeout: float = WAIT) -> Any:
    """Ask ``check`` until it answers something true; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = check()
        if answer:
            return answer
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    calls: list[bytes] = []
    handler = type("Hook", (_Hook,), {"calls": calls})
    hook = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    db_url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'tierwatch.db'}"
    secret = "whsec_" + base64.b64encode(b"browser-test-hook-secret-32byte!").decode()
    settings = make_settings(
        db_url,
        dev=False,
        **{
            "dashboard.refresh_seconds": 0,  # pages change only when a test acts
            "alerts.evaluation_interval_seconds": 0.5,
            "alerts.degraded_for": "0s",
            # the hook listens on loopback, which hooks reach only when allowed
            "alerts.allowed_hosts": ["127.0.0.1"],
            "alerts.hooks": [
                {
                    "name": "ops",
                    "kind": "webhook",
                    "url": f"http://127.0.0.1:{hook.server_port}/hook",
                    "secret": secret,
                }
            ],
        },
    )
    app = create_app(settings)
    engine = app.state.engine
    with LiveServer(app) as server:
        fleet.send(server.url, token=create_token(engine, fleet=fleet.FLEET, role="ingest"))
        # another fleet, which the shop's token must not show
        lab = create_token(engine, fleet="lab", role="ingest")
        answer = requests.post(
            f"{server.url}/v1/traces",
            data=request(
                [span(i, attrs={"hybrid.tier": "edge"}) for i in range(5)]
            ).SerializeToString(),
            headers={"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {lab}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        read = create_token(engine, fleet=fleet.FLEET, role="read")
        admin = create_token(engine, fleet=fleet.FLEET, role="admin")
        auth = {"Authorization": f"Bearer {read}"}
        _until(
            "the degraded device tier to fire and its notification to be delivered",
            lambda: any(
                d["status"] == "delivered"
                for d in requests.get(
                    f"{server.url}/api/v1/deliveries", headers=auth, timeout=10
                ).json()["deliveries"]
            ),
        )
        answer = requests.post(
            f"{server.url}/api/v1/silences",
            json={
                "matchers": [{"name": "tier", "value": "edge"}],
                "duration": "2h",
                "created_by": "ana",
                "comment": "edge node maintenance",
            },
            headers={"Authorization": f"Bearer {admin}"},
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        yield Deployment(
            url=server.url,
            read=read,
            empty=create_token(engine, fleet="empty", role="read"),
            db_url=db_url,
            hook_calls=calls,
        )
    hook.shutdown()


def _wait(browser: Any, condition: Callable[[Any], Any], what: str) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, WAIT).until(condition, message=f"waiting for {what}")


def _text_in(browser: Any, css: str, text: str) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    return _wait(
        browser,
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), text),
        f"{text!r} in {css}",
    )


def _element(browser: Any, css: str) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    return _wait(browser, ec.visibility_of_element_located((By.CSS_SELECTOR, css)), css)


def _option(browser: Any, label: str) -> Any:
    """The open dropdown's option with ``label``, once it shows."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    where = (By.XPATH, f"//*[@role='option'][normalize-space()='{label}']")
    return _wait(browser, ec.element_to_be_clickable(where), f"option {label!r}")


def _screenshot(browser: Any, name: str) -> Path:
    """The whole page as ``build/screenshots/<name>.png`` (overwritten every run)."""
    size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


@pytest.fixture(scope="module")
def browser(deployment: Deployment, make_browser: Callable[[], Any]) -> Any:
    """A browser signed in with the shop's read token through the sign-in form."""
    from selenium.webdriver.common.by import By

    chrome = make_browser()
    chrome.get(f"{deployment.url}/dashboard/")
    _element(chrome, "#login-form")
    chrome.find_element(By.ID, "token").send_keys(deployment.read)
    chrome.find_element(By.ID, "sign-in").click()
    _element(chrome, "#tier-cards")
    return chrome


def test_signed_in_with_a_fleet_token_the_fleet_is_locked(browser: Any) -> None:
    from selenium.webdriver.common.by import By

    _text_in(browser, "#who", "shop · read token")
    _text_in(browser, "#overview-caption", "fleet shop; window 1h")
    _text_in(browser, "#fleet", "shop")
    assert browser.find_element(By.ID, "fleet").get_attribute("disabled") == "true"


def test_overview_says_which_tier_degraded_and_why(browser: Any, deployment: Deployment) -> None:
    browser.get(f"{deployment.url}/dashboard/")
    device = _element(browser, "#tier-card-device")
    assert device.get_attribute("data-status") == "degraded"
    words = device.text
    assert words.startswith("Device tier\n✕\ndegraded\n")
    assert "error rate" in words and "model_version=2.2.0" in words
    for tier in ("edge", "cloud"):
        assert _element(browser, f"#tier-card-{tier}").get_attribute("data-status") == "ok"
    assert "cloud escalation rate" in _element(browser, "#fleet-escalation").text
    _text_in(browser, "#overview-alerts", "segment_degraded")
    assert "tier=device" in _element(browser, "#overview-alerts").text
    _screenshot(browser, "overview")


def test_segment_grid_lists_the_culprit_and_opens_it(browser: Any, deployment: Deployment) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{deployment.url}/dashboard/segments?by=tier,device_model,model_version")
    row = f'.ag-center-cols-container [row-id="{CULPRIT}"]'
    _text_in(browser, row, "galaxy-a14")
    cells = _element(browser, row).text
    assert "device" in cells and "2.2.0" in cells
    status = browser.find_element(By.CSS_SELECTOR, f'[row-id="{CULPRIT}"] [col-id="status"]')
    assert status.text == "✕ degraded"
    _text_in(browser, "#segments-summary", "1 degraded")
    status.click()
    _text_in(browser, "#segment-title", "tier=device, device_model=galaxy-a14, model_version=2.2.0")
    _element(browser, "#segment-chart .main-svg")
    _text_in(browser, "#segment-findings", "on model_version 2.1.0")
    _screenshot(browser, "segments")


def test_tiers_page_compares_local_with_cloud(browser: Any, deployment: Deployment) -> None:
    browser.get(f"{deployment.url}/dashboard/tiers")
    _text_in(browser, "#tiers-differences", "p95 latency")
    for chart in ("latency", "quality", "fallbacks", "escalation"):
        _element(browser, f"#tiers-{chart} .main-svg")
    assert "photo-tag" in _element(browser, "#tiers-differences").text
    _screenshot(browser, "tiers")


def test_versions_page_shows_both_versions(browser: Any, deployment: Deployment) -> None:
    browser.get(f"{deployment.url}/dashboard/versions")
    table = "#versions-table-shop-tagger"
    _text_in(browser, table, "2.2.0")
    words = _element(browser, table).text
    assert "2.2.0" in words and "2.1.0" in words
    assert "newest" in words and "previous dominant" in words
    canary = _element(browser, '.canary[data-version="2.2.0"]')
    assert canary.get_attribute("data-status") == "degraded"
    _element(browser, "#rollout-shop-tagger .main-svg")
    _screenshot(browser, "versions")


def test_requests_page_shows_each_task_end_to_end(browser: Any, deployment: Deployment) -> None:
    # the server assembles the fleet's attempts into requests in the background
    auth = {"Authorization": f"Bearer {deployment.read}"}
    _until(
        "the fleet's attempts to be assembled into requests",
        lambda: requests.get(
            f"{deployment.url}/api/v1/requests?window=1h&by=task", headers=auth, timeout=10
        ).json()["groups"],
        timeout=120,
    )
    browser.get(f"{deployment.url}/dashboard/requests")
    _text_in(browser, "#requests-table", "photo-tag")
    assert "device" in _element(browser, "#requests-table").text
    _element(browser, "#requests-latency .main-svg")
    _screenshot(browser, "requests")


def test_objectives_page_says_how_to_write_one(browser: Any, deployment: Deployment) -> None:
    browser.get(f"{deployment.url}/dashboard/objectives")
    _text_in(browser, "#objectives-body", "No objectives are configured. Add [[objectives]]")


def test_alerts_page_lists_alerts_deliveries_and_silences(
    browser: Any, deployment: Deployment
) -> None:
    browser.get(f"{deployment.url}/dashboard/alerts")
    _text_in(browser, "#alerts-current", "segment_degraded")
    _text_in(browser, "#alerts-deliveries", "delivered")
    _text_in(browser, "#alerts-silences", "tier=edge")
    assert deployment.hook_calls  # the hook really was called
    _screenshot(browser, "alerts")


def test_the_time_range_is_shared_by_every_page(browser: Any, deployment: Deployment) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{deployment.url}/dashboard/")
    _text_in(browser, "#overview-caption", "window 1h (")
    _element(browser, "#window").click()
    _option(browser, "last 6 hours").click()
    _text_in(browser, "#overview-caption", "window 6h (")
    # moving to another page keeps the range
    browser.find_element(By.ID, "nav-segments").click()
    _text_in(browser, "#segments-caption", "window 6h (")
    _element(browser, "#window").click()
    _option(browser, "last hour").click()
    _text_in(browser, "#segments-caption", "window 1h (")


def test_pages_refresh_by_themselves(
    deployment: Deployment, make_browser: Callable[[], Any]
) -> None:
    settings = make_settings(
        deployment.db_url, **{"dashboard.refresh_seconds": 1, "alerts.enabled": False}
    )
    with LiveServer(create_app(settings, migrate=False)) as server:
        chrome = make_browser()
        chrome.get(f"{server.url}/dashboard/")
        _text_in(chrome, "#overview-caption", "updated")
        stamp = re.search(r"updated (\S+) UTC", _element(chrome, "#overview-caption").text)
        assert stamp is not None
        _wait(
            chrome,
            lambda b: stamp.group(1) not in b.find_element("id", "overview-caption").text,
            "the overview to be read again",
        )


def test_an_empty_fleet_says_how_to_send_the_first_traces(
    deployment: Deployment, make_browser: Callable[[], Any]
) -> None:
    chrome = make_browser()
    chrome.get(f"{deployment.url}/dashboard/?token={deployment.empty}")
    _text_in(chrome, "#empty-state", "No traces yet")
    assert "token=" not in chrome.current_url  # the token left the address bar
    words = _element(chrome, "#empty-state").text
    assert f"OTEL_EXPORTER_OTLP_ENDPOINT={deployment.url}" in words
    assert "tierwatch token create --fleet my-fleet --role ingest" in words
    _screenshot(chrome, "empty-state")
