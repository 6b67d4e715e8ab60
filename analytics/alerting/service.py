"""The alerting service in a server: an evaluation loop and a delivery loop.

Every server runs both. Only the holder of the evaluator lease evaluates
(:mod:`analytics.alerting.lease`); every server delivers, claims keeping them
apart. A pass that writes notifications wakes the delivery loop at once. On a
clean shutdown the lease is released so another server takes over without
waiting for it to expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

import anyio
from sqlalchemy import Engine

from analytics.alerting import lease
from analytics.alerting.config import AlertsSettings
from analytics.alerting.delivery import Attempted, deliver_due
from analytics.alerting.destinations import HostPolicy
from analytics.alerting.evaluator import Evaluation, evaluate
from analytics.alerting.times import to_ms
from analytics.config import AnalyticsSettings, Objective
from collector.config import PrivacySettings

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    """The wall clock (the one place the alerting service reads it)."""
    return datetime.now(UTC)


def now_ms() -> int:
    """The wall clock in Unix milliseconds."""
    return to_ms(utc_now())


def hook_warnings(alerts: AlertsSettings) -> list[str]:
    """Hooks whose host is known at start-up to be refused (an address literal or localhost)."""
    policy = HostPolicy.of(alerts.allowed_hosts)
    warnings = []
    for hook in alerts.hooks:
        warning = policy.static_warning(hook.name, urlsplit(hook.url).hostname or "")
        if warning is not None:
            warnings.append(warning)
    return warnings


class AlertService:
    """Evaluation and delivery for one server process."""

    def __init__(
        self,
        engine: Engine,
        alerts: AlertsSettings,
        *,
        analytics: AnalyticsSettings,
        privacy: PrivacySettings,
        public_url: str,
        holder: str | None = None,
        objectives: Sequence[Objective] = (),
        on_evaluation: Callable[[str, float], None] | None = None,
    ) -> None:
        self.engine = engine
        self.alerts = alerts
        self.analytics = analytics
        self.privacy = privacy
        self.public_url = public_url
        self.objectives = list(objectives)
        self.holder = holder or lease.holder_id()
        self.rng = random.Random()
        #: Told each pass's outcome (written, skipped, lease_lost, failed) and its seconds.
        self.on_evaluation = on_evaluation or (lambda outcome, seconds: None)
        for warning in hook_warnings(alerts):
            log.warning("%s", warning)

    def evaluate_once(self) -> Evaluation | None:
        """One evaluation pass, if this server holds the lease."""
        return evaluate(
            self.engine,
            self.alerts,
            analytics=self.analytics,
            privacy=self.privacy,
            public_url=self.public_url,
            holder=self.holder,
            clock=utc_now,
            objectives=self.objectives,
        )

    def deliver_once(self) -> list[Attempted]:
        """One delivery pass over due notifications."""
        return deliver_due(self.engine, self.alerts, holder=self.holder, clock=now_ms, rng=self.rng)

    async def run(self) -> None:
        """Run both loops until cancelled."""
        # Local to this run: an app's lifespan may run more than once (test clients).
        wake = asyncio.Event()
        tasks = [
            asyncio.create_task(self._evaluation_loop(wake)),
            asyncio.create_task(self._delivery_loop(wake)),
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            with contextlib.suppress(Exception):
                await anyio.to_thread.run_sync(
                    lambda: lease.release(self.engine, name=lease.EVALUATOR, holder=self.holder)
                )

    async def _evaluation_loop(self, wake: asyncio.Event) -> None:
        interval = self.alerts.evaluation_interval_seconds
        while True:
            # Wait first: start-up (and migrations) should not compete with a pass.
            await asyncio.sleep(interval)
            started = time.perf_counter()
            try:
                result = await anyio.to_thread.run_sync(self.evaluate_once)
            except lease.LeaseLost as exc:
                self.on_evaluation("lease_lost", time.perf_counter() - started)
                log.warning("alert evaluation not written: %s", exc)
                continue
            except Exception:
                self.on_evaluation("failed", time.perf_counter() - started)
                log.exception("alert evaluation failed; will try again")
                continue
            outcome = "skipped" if result is None else "written"
            self.on_evaluation(outcome, time.perf_counter() - started)
            if result is not None and result.notifications:
                wake.set()

    async def _delivery_loop(self, wake: asyncio.Event) -> None:
        alerts = self.alerts
        while True:
            try:
                attempted = await anyio.to_thread.run_sync(self.deliver_once)
            except Exception:
                log.exception("delivering notifications failed; will try again")
                attempted = []
            if len(attempted) >= alerts.delivery_concurrency:
                continue  # a full batch: more may be due
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), alerts.delivery_interval_seconds)
            wake.clear()
