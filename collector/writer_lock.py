"""``WriterLock``: SQLite writers queue here instead of in SQLite's sleeping busy handler."""

from __future__ import annotations

import fcntl
import os
import threading
import time

from collector.errors import StoreBusy


class WriterLock:
    """One SQLite writer at a time, across this process's threads and across processes.

    SQLite allows one writer. Left to itself, a writer that finds the database
    locked sleeps in SQLite's busy handler in steps of up to 100 ms, however soon
    the lock frees. Collector writers instead queue here: threads on a lock, and
    processes (``collector.ingest_workers``) on ``flock`` of a file beside the
    database, polled every fraction of a millisecond up to the busy timeout.
    Other writers (analytics, alerting, the CLI) still meet SQLite's own timeout.
    """

    def __init__(self, database: str | None, *, timeout_ms: int) -> None:
        self._threads = threading.Lock()
        self._timeout = timeout_ms / 1000
        self._fd: int | None = None
        if database and database != ":memory:":
            self._fd = os.open(f"{database}-writer.lock", os.O_RDWR | os.O_CREAT, 0o644)

    def __enter__(self) -> None:
        if not self._threads.acquire(timeout=self._timeout):
            raise StoreBusy("the database is busy; nothing from this request was stored")
        if self._fd is None:
            return
        deadline = time.monotonic() + self._timeout
        pause = 0.0002
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self._threads.release()
                    raise StoreBusy(
                        "the database is busy; nothing from this request was stored"
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, 0.002)

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    def close(self) -> None:
        """Close the lock file (a lock made for a while, not for the process's life)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
