"""The simulation's clock: backfill history as fast as the receiver takes it, then stream live.

Requests arrive as a Poisson process whose rate follows a daily cycle; each is
given to a device in proportion to its activity, planned by the router and
recorded by the senders. The backfill runs over ``[anchor - history, anchor]``
in simulated time; live streaming continues from the anchor in real time and
records each request once its last attempt has ended, as a real sender would.
The same seed and anchor give the same spans.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from simulator.fleet import COOLING_TAU, DAY, Picker, Versions, build_devices, node_ranks
from simulator.router import PlannedRequest, Router
from simulator.scenario import NS, Scenario
from simulator.senders import SeededIds, Senders, SenderStats

#: Simulated time planned between two looks at the exporters' queues.
BACKFILL_STEP = 60 * NS
#: Spans recorded but not yet handed to exporters before the backfill waits for them.
MAX_QUEUED = 40_000
LIVE_TICK = 0.2
#: How long the fleet runs unrecorded before its first recorded moment. Devices heat
#: up from their own inference over a few cooling times; a fleet that started cold
#: would route fewer requests away from hot phones for its first half hour, and that
#: would show as a change at the start of every backfill and every live stream.
WARM_UP = 4 * COOLING_TAU


@dataclass(frozen=True)
class Progress:
    """Where a run is, for the progress line."""

    phase: str
    #: The simulated time reached.
    at_ns: int
    #: The phase's start and (for a backfill, or a live run with a duration) end.
    start_ns: int
    end_ns: int | None
    #: Requests and attempts recorded in this phase.
    requests: int
    attempts: int
    #: What became of every span recorded so far, in any phase.
    senders: SenderStats
    elapsed_s: float

    @property
    def fraction(self) -> float | None:
        if self.end_ns is None or self.end_ns <= self.start_ns:
            return None
        return min((self.at_ns - self.start_ns) / (self.end_ns - self.start_ns), 1.0)


ProgressHook = Callable[[Progress], None]


class Simulation:
    """A simulated fleet sending to one endpoint, driven by a scenario."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        endpoint: str,
        spool_dir: Path,
        token: str | None = None,
        devices: int | None = None,
        seed: int | None = None,
        rate: float | None = None,
        live_rate: float | None = None,
        anchor_ns: int | None = None,
        history_ns: int = 0,
    ) -> None:
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.rate = scenario.rate if rate is None else rate
        self.live_rate = self.rate if live_rate is None else live_rate
        self.anchor_ns = anchor_ns if anchor_ns is not None else time.time_ns() // NS * NS
        self.start_ns = self.anchor_ns - history_ns
        count = scenario.devices if devices is None else devices
        self.devices = build_devices(
            scenario, count=count, seed=self.seed, start_ns=self.start_ns - WARM_UP
        )
        self._picker = Picker(self.devices)
        self.router = Router(
            scenario,
            anchor_ns=self.anchor_ns,
            versions=Versions(scenario, self.anchor_ns),
            node_ranks=node_ranks(self.seed),
        )
        self._rng = random.Random(f"requests:{self.seed}")
        self.senders = Senders(
            self.devices,
            fleet=scenario.fleet,
            environment=scenario.environment,
            endpoint=endpoint,
            token=token,
            spool_dir=spool_dir,
            ids=SeededIds(random.Random(f"ids:{self.seed}:{self.anchor_ns}")),
        )
        self._clock = self.start_ns
        self.requests = 0
        self.attempts = 0
        self._warm_up(self.rate if history_ns else self.live_rate)

    # -- arrivals --------------------------------------------------------------------

    def _rate_at(self, rate: float, t: int) -> float:
        """Requests per second at ``t``: the mean rate on a daily cycle peaking at 15:00 UTC."""
        day = (t % DAY) / DAY
        return rate * (1.0 + self.scenario.diurnal * math.sin(2 * math.pi * (day - 9 / 24)))

    def _arrivals(self, rate: float, until: int) -> Iterator[int]:
        """Arrival times after the clock up to ``until``; the clock ends at ``until``.

        The overshooting draw is discarded: a Poisson process has no memory, so
        starting afresh at ``until`` changes nothing.
        """
        yield from self._times(self._rng, rate, self._clock, until)
        self._clock = until

    def _times(self, rng: random.Random, rate: float, t: int, until: int) -> Iterator[int]:
        """Poisson arrival times after ``t`` up to ``until``, at the daily cycle's rate."""
        while True:
            per_second = self._rate_at(rate, t)
            if per_second <= 0:
                return
            t += int(rng.expovariate(per_second) * NS) + 1
            if t > until:
                return
            yield t

    def _warm_up(self, rate: float) -> None:
        """Plan ``WARM_UP`` of requests before the start and keep only what they did to devices.

        The warm-up draws from its own generator, so the recorded requests are the
        same ones whatever its length; only the devices' state carries over.
        """
        rng = random.Random(f"warm-up:{self.seed}")
        for t in self._times(rng, rate, self.start_ns - WARM_UP, self.start_ns - 1):
            self.router.plan(rng, self._picker.pick(rng), t)

    def _plan(self, t: int) -> PlannedRequest:
        device = self._picker.pick(self._rng)
        request = self.router.plan(self._rng, device, t)
        self.requests += 1
        return request

    def _record(self, request: PlannedRequest) -> None:
        self.attempts += self.senders.record(request)

    def _progress(
        self, phase: str, at: int, start: int, end: int | None, began: float, since: tuple[int, int]
    ) -> Progress:
        return Progress(
            phase=phase,
            at_ns=at,
            start_ns=start,
            end_ns=end,
            requests=self.requests - since[0],
            attempts=self.attempts - since[1],
            senders=self.senders.stats(),
            elapsed_s=time.monotonic() - began,
        )

    # -- phases ----------------------------------------------------------------------

    def backfill(
        self,
        *,
        stop: threading.Event | None = None,
        on_progress: ProgressHook | None = None,
        every_s: float = 0.5,
    ) -> Progress:
        """Generate the history up to the anchor as fast as the receiver takes it; deliver it."""
        began = time.monotonic()
        reported = began
        since = (self.requests, self.attempts)
        t = self._clock
        while t < self.anchor_ns and not (stop is not None and stop.is_set()):
            until = min(t + BACKFILL_STEP, self.anchor_ns)
            for arrival in self._arrivals(self.rate, until):
                self._record(self._plan(arrival))
            t = until
            self._wait_for_exporters()
            if on_progress is not None and time.monotonic() - reported >= every_s:
                reported = time.monotonic()
                on_progress(
                    self._progress("backfill", t, self.start_ns, self.anchor_ns, began, since)
                )
        for device in self.devices:
            self.router.update_connectivity(device, t)
        # The history is in the store before live streaming (or the caller) goes on.
        self.senders.flush()
        done = self._progress("backfill", t, self.start_ns, self.anchor_ns, began, since)
        if on_progress is not None:
            on_progress(done)
        return done

    def _wait_for_exporters(self) -> None:
        while self.senders.stats().queued > MAX_QUEUED:
            time.sleep(0.005)

    def stream(
        self,
        *,
        duration_ns: int | None = None,
        stop: threading.Event | None = None,
        on_progress: ProgressHook | None = None,
        every_s: float = 1.0,
    ) -> Progress:
        """Stream in real time from the end of the backfill until ``stop`` or ``duration_ns``."""
        stop = stop or threading.Event()
        began = time.monotonic()
        reported = began
        since = (self.requests, self.attempts)
        live_start = time.time_ns()
        end = None if duration_ns is None else live_start + duration_ns
        self._clock = max(self._clock, self.anchor_ns)
        pending: list[tuple[int, int, PlannedRequest]] = []
        order = itertools.count()
        while True:
            now = time.time_ns()
            for arrival in self._arrivals(self.live_rate, now):
                request = self._plan(arrival)
                heapq.heappush(pending, (request.end_ns, next(order), request))
            for device in self.devices:
                self.router.update_connectivity(device, now)
            while pending and pending[0][0] <= now:
                self._record(heapq.heappop(pending)[2])
            if on_progress is not None and time.monotonic() - reported >= every_s:
                reported = time.monotonic()
                on_progress(self._progress("live", now, live_start, end, began, since))
            if (end is not None and now >= end) or stop.wait(LIVE_TICK):
                break
        for _, _, request in pending:
            self._record(request)  # ends within seconds; the receiver accepts it
        done = self._progress("live", time.time_ns(), live_start, end, began, since)
        if on_progress is not None:
            on_progress(done)
        return done

    def close(self) -> SenderStats:
        """Flush every sender; spans of devices still offline stay in their spool."""
        self.senders.shutdown()
        return self.senders.stats()
