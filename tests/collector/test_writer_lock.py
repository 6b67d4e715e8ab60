"""WriterLock: one SQLite writer at a time, and a clear 503 when the wait is too long."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from collector.errors import StoreBusy
from collector.writer_lock import WriterLock


def test_a_second_writer_waits_then_is_told_the_database_is_busy(tmp_path: Path) -> None:
    lock = WriterLock(str(tmp_path / "t.db"), timeout_ms=50)
    failures: list[str] = []

    def second_writer() -> None:
        try:
            with lock:
                pass
        except StoreBusy as exc:
            failures.append(exc.message)

    with lock:
        other = threading.Thread(target=second_writer)
        other.start()
        other.join()
    assert failures == ["the database is busy; nothing from this request was stored"]
    # released, the lock is free again
    with lock:
        pass


def test_writers_in_other_processes_queue_on_the_file_beside_the_database(tmp_path: Path) -> None:
    database = str(tmp_path / "t.db")
    first, second = (WriterLock(database, timeout_ms=50) for _ in range(2))
    # two locks stand for two processes: they share only the flock file
    with first, pytest.raises(StoreBusy):
        second.__enter__()
    assert (tmp_path / "t.db-writer.lock").exists()
    with second:
        pass


def test_an_in_memory_database_needs_no_lock_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a lock file would be made relative to the working directory
    monkeypatch.chdir(tmp_path)
    with WriterLock(":memory:", timeout_ms=50):
        pass
    assert list(tmp_path.iterdir()) == []
