"""Log lines at a bounded rate: events counted by reason, summed up at most once per interval.

Under a flood every refused request would otherwise be a log line of its own
(thousands a minute); a summary line says the same in one, with the count per
reason: ``refused 4,712 export requests in the last 10 s (queue full: 4,700, too
large: 12)``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable


class SummaryLog:
    """Counts events by reason code and logs them as one line at most every ``interval`` seconds.

    ``verb`` and ``noun`` make the line: ``"<verb> <count> <noun> in the last <n> s (...)"``.
    A line is written by the event that finds the interval passed, or by :meth:`flush`,
    which the server calls now and then so that the last events of a burst are told too.
    """

    def __init__(
        self,
        logger: logging.Logger,
        *,
        verb: str,
        noun: str,
        interval: float,
        level: int = logging.WARNING,
        words: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._verb = verb
        self._noun = noun
        self.interval = interval
        self._level = level
        #: Reason codes are written as words (``queue_full``: "queue full"); else as given.
        self._words = words
        self._clock = clock
        self._counts: Counter[str] = Counter()
        self._since = clock()
        self._lock = threading.Lock()

    def add(self, reason: str, count: int = 1) -> None:
        """Count ``count`` events for ``reason``; log the summary if the interval has passed."""
        if count <= 0:
            return
        with self._lock:
            self._counts[reason] += count
        if self._clock() - self._since >= self.interval:
            self.flush()

    def flush(self) -> None:
        """Log what was counted since the last line, if anything was and the interval passed."""
        with self._lock:
            now = self._clock()
            if not self._counts or now - self._since < self.interval:
                return
            counts, self._counts = self._counts, Counter()
            elapsed, self._since = now - self._since, now
        total = sum(counts.values())
        parts = ", ".join(
            f"{reason.replace('_', ' ') if self._words else reason}: {n:,}"
            for reason, n in counts.most_common()
        )
        self._logger.log(
            self._level,
            "%s %s %s in the last %d s (%s)",
            self._verb,
            f"{total:,}",
            self._noun,
            round(elapsed),
            parts,
        )
