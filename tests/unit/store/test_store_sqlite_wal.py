"""The SQLite store's WAL is checkpointed by a thread of its own, and stays bounded."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from joinedup.store import sqlite as sqlite_store
from joinedup.store.sqlite import FALLBACK_AUTOCHECKPOINT_PAGES, SQLiteStore

ROUNDS = 20
#: Only a guard against a hung thread; nothing here measures how long anything takes.
PATIENCE_SECONDS = 120.0


def _write_round(store: SQLiteStore, round_: int) -> None:
    # ~40 kB per Patient: one round adds a few dozen pages to the WAL.
    for n in range(5):
        store.create(
            {
                "resourceType": "Patient",
                "identifier": [{"value": f"{round_}-{n}"}],
                "name": [{"text": "x" * 40_000}],
            }
        )


def _wal_bytes(path: Path) -> int:
    return os.path.getsize(f"{path}-wal")


def _wait_for_the_checkpoint_thread(store: SQLiteStore) -> None:
    deadline = time.monotonic() + PATIENCE_SECONDS
    while store._wal.checkpointed < store._wal.commits:
        assert time.monotonic() < deadline, "the checkpoint thread never caught up"
        time.sleep(0.01)


def test_the_checkpoint_thread_keeps_the_wal_bounded_under_writes(tmp_path: Path) -> None:
    path = tmp_path / "record.db"
    store = SQLiteStore(str(path), wal_checkpoint_seconds=0)
    try:
        # Writers leave checkpoints to the thread: SQLite's own would run at 1,000 pages.
        with store.transaction() as tx:
            assert tx.execute("PRAGMA wal_autocheckpoint") == [(FALLBACK_AUTOCHECKPOINT_PAGES,)]
        sizes = []
        for round_ in range(ROUNDS):
            _write_round(store, round_)
            sizes.append(_wal_bytes(path))
            _wait_for_the_checkpoint_thread(store)
        # Each round's writer found the WAL copied back and started it over, so the file
        # never held much more than one round; without checkpoints it would hold all of them.
        assert max(sizes) < 3 * sizes[0]
        assert max(sizes) < sum(sizes) / 5
        with store.transaction() as tx:
            assert tx.execute("SELECT COUNT(*) FROM resource") == [(5 * ROUNDS,)]
    finally:
        store.close()
    assert not store._wal.running


def test_writers_checkpoint_themselves_when_the_thread_is_not_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "FALLBACK_AUTOCHECKPOINT_PAGES", 50)
    path = tmp_path / "record.db"
    store = SQLiteStore(str(path))
    try:
        store._wal.close()
        assert not store._wal.running
        sizes = []
        for round_ in range(ROUNDS):
            _write_round(store, round_)
            sizes.append(_wal_bytes(path))
        assert max(sizes) < sum(sizes) / 5
    finally:
        store.close()


def test_closing_the_store_stops_the_thread_and_leaves_a_whole_database(tmp_path: Path) -> None:
    path = tmp_path / "record.db"
    store = SQLiteStore(str(path))
    _write_round(store, 0)
    store.close()
    assert not store._wal.running
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = connection.execute("SELECT COUNT(*) FROM resource").fetchall()
    assert rows == [(5,)]


_WRITER = """
import sys
from joinedup.store.sqlite import SQLiteStore
store = SQLiteStore(sys.argv[1], wal_checkpoint_seconds=0)
n = 0
while True:
    store.create({"resourceType": "Patient", "identifier": [{"value": str(n)}],
                  "name": [{"text": "x" * 40_000}]})
    print(n, flush=True)
    n += 1
"""


def test_kill_9_while_checkpointing_leaves_every_commit_and_a_whole_database(
    tmp_path: Path,
) -> None:
    path = tmp_path / "record.db"
    process = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    reported = [int(process.stdout.readline()) for _ in range(50)]
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    process.stdout.close()
    assert process.returncode == -signal.SIGKILL

    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        (rows,) = connection.execute("SELECT COUNT(*) FROM resource").fetchone()
    assert rows in (len(reported), len(reported) + 1)
