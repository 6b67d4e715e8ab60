"""Ingest in worker processes: the CPU-bound part of the collector on every core.

The HTTP process admits, authenticates and reads each request, then hands the
:class:`Export` to a pool of spawned processes; each builds its own :class:`Ingestor` (its
own database connections) once, from a picklable factory. Workers import only
the write side, so each costs a fraction of the server's memory. A worker that
dies fails the requests it held with 503 (nothing of them was committed, or a
retry is deduplicated) and the pool is rebuilt.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from collector.errors import StoreBusy
from collector.ingest import Export, Ingestor, Outcome

log = logging.getLogger(__name__)

IngestorFactory = Callable[..., Ingestor]
_ingestor: Ingestor | None = None


def _start_worker(factory: IngestorFactory, args: tuple[Any, ...]) -> None:
    global _ingestor
    _ingestor = factory(*args)


def _ingest(export: Export) -> Outcome:
    assert _ingestor is not None, "worker started without an ingestor"
    return _ingestor.ingest(export)


class WorkerPool:
    """A pool of ingest processes built by ``factory(*args)`` in each of them."""

    def __init__(self, processes: int, factory: IngestorFactory, args: tuple[Any, ...]) -> None:
        self.processes = processes
        self._factory = factory
        self._args = args
        self._executor: ProcessPoolExecutor | None = None

    def start(self) -> None:
        self._executor = ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(self._factory, self._args),
        )
        # Start every worker now rather than on the first requests.
        for future in [self._executor.submit(_noop) for _ in range(self.processes)]:
            future.result()

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    async def ingest(self, export: Export) -> Outcome:
        """Process one export request in a worker; an ingest error raised there is raised here."""
        executor = self._executor
        if executor is None:
            raise StoreBusy("the collector is starting or stopping; retry")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(executor, _ingest, export)
        except BrokenProcessPool as exc:
            log.error("an ingest worker died; restarting the pool")
            if self._executor is executor:
                executor.shutdown(wait=False, cancel_futures=True)
                self.start()
            raise StoreBusy("an ingest worker stopped; nothing of this request was kept") from exc


def _noop() -> None:
    return None
