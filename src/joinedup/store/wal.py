"""SQLite's WAL copied back into the database by a thread of its own, not by a request.

Left to itself SQLite checkpoints inside whichever commit takes the WAL past 1,000 pages, so
one request in every few dozen (an `$everything` audit entry is ~30 kB) pays for copying and
syncing everyone's pages: 12 ms alone, 769 ms seen under load. The store's connections instead
leave the WAL to a :class:`WALCheckpointer`: writers wake it after they commit, and it runs a
PASSIVE checkpoint (which never waits for, nor holds up, readers and writers) at most once per
``every`` seconds from its own connection. Once a checkpoint has copied every frame, the next
writer starts the WAL from its beginning again, so it stays about ``every`` seconds of writes
long. A crash at any point leaves the database consistent: a checkpoint only copies committed
frames, and whatever it had not copied is replayed from the WAL on the next open.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class WALCheckpointer:
    """One daemon thread per store; :meth:`close` stops it and closes its connection."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], *, every: float) -> None:
        self.every = every
        self._connection = connect()
        self._changed = threading.Condition()
        self._stopping = False
        self._paused = 0
        self.commits = 0
        """Write transactions committed through the store."""
        self.checkpointed = 0
        """Of those, how many the latest checkpoint had in the WAL when it began."""
        self._thread = threading.Thread(target=self._run, name="sqlite-wal-checkpoint", daemon=True)
        self._thread.start()

    def written(self) -> None:
        """A write transaction has committed: the WAL has frames to copy."""
        with self._changed:
            self.commits += 1
            self._changed.notify()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No checkpoints while the block runs: a bulk load checkpoints at its own threshold
        (store/sqlite.py), so that pages its batches rewrite are copied back once."""
        with self._changed:
            self._paused += 1
        try:
            yield
        finally:
            with self._changed:
                self._paused -= 1

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        seen = 0
        while True:
            with self._changed:
                while not self._stopping and self.commits == seen:
                    self._changed.wait()
                if self._stopping:
                    return
                seen, paused = self.commits, self._paused > 0
            if not paused:
                self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self.checkpointed = seen
            # Commits meanwhile wait for the next period: one checkpoint per period at most.
            with self._changed:
                if self._changed.wait_for(lambda: self._stopping, timeout=self.every):
                    return

    def close(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        self._thread.join()
        self._connection.close()
