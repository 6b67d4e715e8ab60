"""Headless Chromium for the browser tests: Debian's chromium and chromium-driver.

When the packages are missing the session installs them with apt-get (as root,
as CI runs); elsewhere the browser tests skip and say how to install them, or
fail under ``CI``. Selenium drives the system browser through the system driver,
so nothing is downloaded at test time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PACKAGES = ("chromium", "chromium-driver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)


def _install() -> str | None:
    """Install Chromium and its driver with apt-get; the reason when that cannot be done."""
    if shutil.which("apt-get") is None:
        return "apt-get is not available"
    if os.geteuid() != 0:
        return "installing needs root"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            return f"{' '.join(command)} failed: {done.stderr.strip()[-500:]}"
    return None


@pytest.fixture(scope="session")
def chromium() -> tuple[str, str]:
    """Paths of the browser and its driver, installed first when missing."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        reason = _install()
        if reason is not None or not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
            message = (
                f"headless Chromium is missing and could not be installed ({reason}); "
                f"run: apt-get install -y {' '.join(PACKAGES)}"
            )
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
    return str(CHROMIUM), str(CHROMEDRIVER)


@pytest.fixture(scope="module")
def make_browser(
    chromium: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], object]]:
    """A factory of fresh headless browsers (own profile each); all are quit at the end."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = chromium
    started: list[webdriver.Chrome] = []

    def make() -> webdriver.Chrome:
        options = webdriver.ChromeOptions()
        options.binary_location = binary
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
        browser = webdriver.Chrome(service=Service(driver), options=options)
        started.append(browser)
        return browser

    yield make
    for browser in started:
        browser.quit()
