"""Index rows for a bulk load, extracted partly in a worker process beside the writer.

Extracting index rows is most of a bulk load's CPU (the R4 search parameters of each resource)
and needs neither the database nor the write transaction: only the stored JSON and the row's
``pk``. So while the writer process inserts, one worker process extracts: the writer sends it
*chunks* (the pks and the stored JSON bytes, marshalled), gets back finished rows (marshalled
tuples, the compact form Python reads fastest), and whenever the worker is still busy it
extracts the next chunk itself. Two cores are kept busy without a thread (the GIL made a
thread slower than no thread).

The rows are those :func:`~joinedup.store.indexing.index_resource` gives for the stored JSON,
whichever process extracts them. If the worker cannot extract a chunk, the writer does it
itself, so a resource that breaks extraction fails exactly as it would without the worker. If
the worker dies, the load stops with a :class:`FHIRError` while the writer's transaction is
still open, so nothing of it is committed.
"""

from __future__ import annotations

import contextlib
import marshal
import multiprocessing
import os
import queue
import sys
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

import orjson

from joinedup.fhir.outcome import FHIRError
from joinedup.store.database import Row
from joinedup.store.indexing import INDEX_COLUMNS, index_resource

#: Resources per message: small enough that the writer seldom waits for the worker's last
#: chunk, big enough that a message's fixed cost (two pipe hand-offs) stays a few µs each.
CHUNK = 32
#: The last chunks of a batch are smaller, down to this.
MIN_CHUNK = 4
#: Below this many new resources a batch is extracted in process: the worker cannot gain
#: back what handing over and waiting for one chunk costs.
WORKER_FROM = 4 * CHUNK
#: How often an idle worker checks that the process that started it is still alive (it would
#: otherwise wait forever on a pipe another child process keeps open).
_PARENT_CHECK_SECONDS = 2.0

IndexRows = tuple[dict[str, list[Row]], list[Row], list[Row]]
"""Rows for ``{index table: rows}``, ``patient_compartment`` and ``resource_security``, each
row starting with its ``resource_pk``."""


def index_rows(pks: Sequence[int], bodies: Sequence[dict[str, Any]]) -> IndexRows:
    """The index, compartment and security rows of resources stored under ``pks``."""
    tables: dict[str, list[Row]] = {table: [] for table in INDEX_COLUMNS}
    compartment: list[Row] = []
    security: list[Row] = []
    for pk, body in zip(pks, bodies, strict=True):
        index = index_resource(body)
        for table, rows in index.rows.items():
            tables[table].extend((pk, *row) for row in rows)
        compartment.extend((pk, patient) for patient in index.compartment)
        security.extend((pk, system, code) for system, code in index.security)
    return tables, compartment, security


def _receive(requests: Connection, parent: int, inbox: queue.SimpleQueue[bytes]) -> None:
    """The worker's reader: chunks go into ``inbox`` as soon as they arrive, so the writer
    never waits to hand one over while the worker waits to hand back rows (each side blocked
    on a full pipe would wait for ever). ``b""`` in ``inbox`` means stop."""
    while True:
        while not requests.poll(_PARENT_CHECK_SECONDS):
            if os.getppid() != parent:
                inbox.put(b"")
                return
        try:
            message = requests.recv_bytes()
        except EOFError:
            message = b""
        inbox.put(message)
        if not message:
            return


def _serve(requests: Connection, replies: Connection, parent: int) -> None:
    """The worker: a chunk in, its rows out (``None`` when extraction failed, so that the
    writer repeats it and meets the error itself); an empty message stops it."""
    inbox: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    threading.Thread(target=_receive, args=(requests, parent, inbox), daemon=True).start()
    while message := inbox.get():
        pks, documents = marshal.loads(message)
        try:
            reply = marshal.dumps(index_rows(pks, [orjson.loads(d) for d in documents]))
        except Exception:
            reply = marshal.dumps(None)
        replies.send_bytes(reply)


def _context() -> multiprocessing.context.BaseContext:
    # A forked worker starts in milliseconds with the compiled extractors already in memory;
    # where fork is not offered (or not safe, as on macOS) a spawned one imports them anew.
    if sys.platform == "linux":
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


class ExtractionWorker:
    """One worker process and the pipes to it; used by one bulk load at a time."""

    def __init__(self) -> None:
        context = _context()
        requests_in, self._requests = context.Pipe(duplex=False)
        self._replies, replies_out = context.Pipe(duplex=False)
        self._process: BaseProcess = context.Process(  # type: ignore[attr-defined]
            target=_serve,
            args=(requests_in, replies_out, os.getpid()),
            name="joinedup-index-extraction",
            daemon=True,
        )
        self._process.start()
        # The child holds its own ends now; ours would keep the pipes open after it died.
        requests_in.close()
        replies_out.close()
        self.broken = False

    def _dead(self) -> FHIRError:
        self.broken = True
        self._process.join(timeout=1)
        return FHIRError(
            "the bulk load stopped: its index-extraction worker process ended unexpectedly "
            f"(exit code {self._process.exitcode}); nothing of this load was written",
            status=500,
            code="exception",
        )

    def send(self, pks: Sequence[int], documents: Sequence[bytes]) -> None:
        try:
            self._requests.send_bytes(marshal.dumps((list(pks), list(documents))))
        except OSError:
            raise self._dead() from None

    def ready(self) -> bool:
        """Whether the rows of the oldest chunk out have arrived (or the worker has ended)."""
        return self._replies.poll(0) or not self._process.is_alive()

    def receive(self) -> IndexRows | None:
        """The rows of the oldest chunk out; ``None`` when the worker could not extract it."""
        # Waiting on the process too: its death must not look like a reply still to come.
        wait([self._replies, self._process.sentinel])
        if not self._replies.poll(0):
            raise self._dead()
        try:
            rows: IndexRows | None = marshal.loads(self._replies.recv_bytes())
        except (EOFError, OSError):
            raise self._dead() from None
        return rows

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._requests.send_bytes(b"")
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._requests.close()
        self._replies.close()


class IndexExtractor:
    """A store's extraction: in process, or with its one worker process, which one bulk
    load at a time borrows (a concurrent one extracts in process) and which is started when
    a batch is first big enough to need it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._worker: ExtractionWorker | None = None

    def rows(
        self,
        pks: Sequence[int],
        bodies: Sequence[dict[str, Any]],
        documents: Sequence[bytes],
        meanwhile: Callable[[], None],
    ) -> Generator[IndexRows, None, None]:
        """The rows of ``bodies`` (stored as ``documents`` under ``pks``) chunk by chunk, in
        the order the chunks are finished. ``meanwhile`` is the caller's work that needs no
        rows: it runs once the worker has its first chunk."""
        if len(pks) < WORKER_FROM or not self._lock.acquire(blocking=False):
            meanwhile()
            yield index_rows(pks, bodies)
            return
        try:
            if self._worker is None or self._worker.broken:
                if self._worker is not None:
                    self._worker.close()
                self._worker = ExtractionWorker()
            yield from _shared(self._worker, pks, bodies, documents, meanwhile)
        finally:
            self._lock.release()

    def close(self) -> None:
        with self._lock:
            if self._worker is not None:
                self._worker.close()
                self._worker = None


def _shared(
    worker: ExtractionWorker,
    pks: Sequence[int],
    bodies: Sequence[dict[str, Any]],
    documents: Sequence[bytes],
    meanwhile: Callable[[], None],
) -> Iterator[IndexRows]:
    """The worker takes the next chunk whenever it is free, the calling process the next one
    whenever the worker is still busy."""
    taken = 0

    def take() -> slice:
        # Chunks shrink towards the end, so that the writer, which waits for the worker's last
        # ones, waits for little.
        nonlocal taken
        size = max(MIN_CHUNK, min(CHUNK, (len(pks) - taken) // 4))
        out = slice(taken, min(taken + size, len(pks)))
        taken = out.stop
        return out

    sent: deque[slice] = deque()

    def send() -> None:
        out = take()
        worker.send(pks[out], documents[out])
        sent.append(out)

    try:
        # Two chunks out, so that the worker has the next one while its rows travel back.
        send()
        meanwhile()
        if taken < len(pks):
            send()
        while sent:
            if taken < len(pks) and not worker.ready():
                mine = take()
                yield index_rows(pks[mine], bodies[mine])
                continue
            rows, done = worker.receive(), sent.popleft()
            if taken < len(pks):
                send()
            yield rows if rows is not None else index_rows(pks[done], bodies[done])
    finally:
        if sent:
            # Abandoned with chunks out (the writer failed): their late replies must not be
            # taken for the next load's, so this worker is replaced.
            worker.broken = True
