"""Benchmark: how long the dashboard's overview takes to be complete in headless Chromium.

Fills an empty store with 10 million attempts' worth of rollups (the generator of
``benchmarks/health.py``: 240 segments over 25 hours, a few degrading in the last
hour) ending at the current minute, folds closed hours as the server does, then
starts ``tierwatch serve --dev`` on it and opens ``/dashboard/`` in Debian's
headless Chromium, driven by Selenium through the system chromedriver.

"Complete" is the moment, counted from the start of the navigation, at which the
three tier cards and the firing-alerts card are in the page and the next frame
has been drawn. A MutationObserver in the page notes it, so the figure does not
depend on how often the driver polls. Cold runs disable the browser cache
(every script is fetched again); warm runs use it, as an operator's browser
does after the first visit.

    .venv/bin/python benchmarks/dashboard.py
    .venv/bin/python benchmarks/dashboard.py --backend postgresql \
        --url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics.compaction import compact
from benchmarks.health import attempts_stored, fill
from benchmarks.scratch import scratch_database
from collector.db import make_engine
from tierwatch.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PACKAGES = "chromium chromium-driver"
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
#: Resolves with the time since navigation start at which the overview is complete.
COMPLETE = """
const done = arguments[arguments.length - 1];
const complete = () =>
    document.querySelectorAll('#tier-cards .tier-card').length === 3 &&
    document.querySelector('#overview-alerts') !== null;
const finish = () => requestAnimationFrame(() => done(performance.now()));
if (complete()) { finish(); return; }
new MutationObserver((_, observer) => {
    if (complete()) { observer.disconnect(); finish(); }
}).observe(document.body, {childList: true, subtree: true});
"""
#: The slowest callback request of the page load, in ms (the server's share).
SLOWEST_CALLBACK = """
return Math.max(0, ...performance.getEntriesByType('resource')
    .filter(e => e.name.includes('_dash-update-component'))
    .map(e => e.duration));
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    """``tierwatch serve --dev`` on the store, without background loops that would compete."""
    env = {
        **os.environ,
        "TIERWATCH_ALERTS__ENABLED": "false",
        "TIERWATCH_ANALYTICS__COMPACTION_INTERVAL_SECONDS": "0",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "tierwatch", "serve", "--dev", "--db", url, "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except requests.ConnectionError:
            pass
        if server.poll() is not None:
            raise RuntimeError(f"the server stopped: {server.stderr.read().decode()[-2000:]}")
        time.sleep(0.2)
    server.terminate()
    raise RuntimeError("the server did not start within 60 s")


def browser(profile: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    chrome = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    chrome.set_script_timeout(60)
    return chrome


def measure(chrome, url: str, *, cold: bool) -> tuple[float, float]:
    """One load of the overview: (ms until complete, ms of the slowest callback request)."""
    chrome.get("about:blank")
    chrome.execute_cdp_cmd("Network.enable", {})
    chrome.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": cold})
    chrome.get(url)
    complete = float(chrome.execute_async_script(COMPLETE))
    return complete, float(chrome.execute_script(SLOWEST_CALLBACK))


def run(url: str, args: argparse.Namespace) -> None:
    engine = make_engine(url)
    upgrade(engine)
    end_s = int(time.time()) // 60 * 60
    print(f"backend {engine.dialect.name}")
    t0 = time.perf_counter()
    rows = fill(
        engine,
        attempts=args.attempts,
        segments=args.segments,
        hours=args.hours,
        end_s=end_s,
        seed=args.seed,
    )
    print(
        f"  filled {rows:,} minute rollups = {attempts_stored(engine):,} attempts, "
        f"{args.segments} segments, {args.hours} h ending now, in {time.perf_counter() - t0:.1f} s"
    )
    hours = compact(engine, now=end_s, grace_seconds=0)
    print(f"  compaction: {hours} closed hours folded")
    engine.dispose()
    port = free_port()
    server = start_server(url, port)
    page = f"http://127.0.0.1:{port}/dashboard/"
    try:
        with tempfile.TemporaryDirectory() as profile:
            chrome = browser(profile)
            try:
                measure(chrome, page, cold=True)  # the server's first answers warm its caches
                for cold in (True, False):
                    totals, callbacks = [], []
                    for _ in range(args.repeat):
                        total, callback = measure(chrome, page, cold=cold)
                        totals.append(total)
                        callbacks.append(callback)
                    label = "cold cache" if cold else "warm cache"
                    print(
                        f"  overview complete ({label}): "
                        f"median {statistics.median(totals):.0f} ms, "
                        f"max {max(totals):.0f} ms over {args.repeat} loads; slowest callback "
                        f"request median {statistics.median(callbacks):.0f} ms"
                    )
                cards = chrome.find_element("id", "tier-cards").text.split("\n")[:2]
                print(f"  first card reads: {' / '.join(cards)}")
            finally:
                chrome.quit()
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--attempts", type=int, default=10_000_000)
    parser.add_argument("--segments", type=int, default=240)
    parser.add_argument("--hours", type=int, default=25, help="history: 24h baseline + 1h window")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        sys.exit(f"needs Debian's headless Chromium: apt-get install -y {PACKAGES}")
    with scratch_database(args.backend, args.url) as url:
        run(url, args)


if __name__ == "__main__":
    main()
