"""Running export jobs in the background: one worker thread, streaming each resource type from
the store into its NDJSON files (memory flat), cancellable, resumed after a restart.

Without ``_elements`` or ``_typeFilter`` a resource's stored JSON goes to the file as it is
(``Store.iter_json``: no parse, no re-serialisation); ``_elements`` parses and trims each
resource; ``_typeFilter`` runs the type's searches.

"Resumed" means run again from the start under the same ``transactionTime``: a half-written
file is never trusted. A job that ran under the caller's access restriction cannot be
resumed (the restriction is not stored), so it fails with a message saying to kick off again.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import orjson

from joinedup.export.bulk.elements import subsetter
from joinedup.export.bulk.files import write_type_files
from joinedup.export.bulk.jobs import Job, JobTable
from joinedup.store.base import Restriction, Store
from joinedup.store.search import parse_search

log = logging.getLogger("joinedup.export")
#: Resources between progress updates in the job table.
PROGRESS_EVERY = 10_000
TYPE_FILTER_PAGE = 1_000


class Cancelled(Exception):
    """The job was cancelled while running."""


class InPatientCompartment:
    """Resources in the compartment of any Patient, or of the patients one job lists (a
    Group's members, or those its ``patient`` parameter names)."""

    def __init__(self, members_of_job: str | None) -> None:
        self.members_of_job = members_of_job

    def sql(self, dialect: str, alias: str) -> tuple[str, list[Any]]:
        if self.members_of_job is None:
            return (
                "EXISTS (SELECT 1 FROM patient_compartment pc "  # noqa: S608 - alias from the store
                f"WHERE pc.resource_pk = {alias}.pk)",
                [],
            )
        return (
            "EXISTS (SELECT 1 FROM patient_compartment pc JOIN bulk_export_member m "  # noqa: S608
            "ON m.patient_id = pc.patient_id "
            f"WHERE pc.resource_pk = {alias}.pk AND m.job_id = ?)",
            [self.members_of_job],
        )


class AllOf:
    """Several restrictions at once (the caller's access decision and the export's level)."""

    def __init__(self, parts: Sequence[Restriction]) -> None:
        self.parts = list(parts)

    def sql(self, dialect: str, alias: str) -> tuple[str, list[Any]]:
        clauses, params = [], []
        for part in self.parts:
            clause, part_params = part.sql(dialect, alias)
            clauses.append(f"({clause})")
            params.extend(part_params)
        return " AND ".join(clauses), params


class ExportRunner:
    """Owns the worker thread and the files of every job under ``root``."""

    def __init__(self, store: Store, jobs: JobTable, root: Path, per_file: int) -> None:
        self.store = store
        self.jobs = jobs
        self.root = root
        self.per_file = per_file
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bulk-export")
        self._cancel: dict[str, threading.Event] = {}
        self._restrictions: dict[str, Restriction | None] = {}
        self._lock = threading.Lock()

    def folder(self, job_id: str) -> Path:
        return self.root / job_id

    def submit(self, job: Job, restriction: Restriction | None) -> None:
        with self._lock:
            self._cancel[job.id] = threading.Event()
            self._restrictions[job.id] = restriction
        self._executor.submit(self._run_safely, job)

    def resume_all(self) -> None:
        for job in self.jobs.active():
            if job.restricted:
                self.jobs.update(
                    job.id,
                    status="failed",
                    error="the server restarted during this export, which ran under the "
                    "caller's access restriction; kick the export off again",
                )
                shutil.rmtree(self.folder(job.id), ignore_errors=True)
            else:
                self.submit(job, None)

    def cancel(self, job_id: str) -> None:
        with self._lock:
            event = self._cancel.get(job_id)
        if event is not None:
            event.set()
        shutil.rmtree(self.folder(job_id), ignore_errors=True)

    def shutdown(self) -> None:
        with self._lock:
            events = list(self._cancel.values())
        # Interrupted jobs stay "in-progress" in the table and are resumed on the next start.
        for event in events:
            event.set()
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _run_safely(self, job: Job) -> None:
        try:
            self._run(job)
        except Cancelled:
            shutil.rmtree(self.folder(job.id), ignore_errors=True)
        except Exception as exc:
            # Only the exception's type: messages may quote resource content.
            log.error("bulk export %s failed: %s", job.id, type(exc).__name__)
            self.jobs.update(job.id, status="failed", error=f"export failed ({type(exc).__name__})")
            shutil.rmtree(self.folder(job.id), ignore_errors=True)
        finally:
            with self._lock:
                self._cancel.pop(job.id, None)
                self._restrictions.pop(job.id, None)

    def _run(self, job: Job) -> None:
        cancel = self._cancel[job.id]
        if not self.jobs.update(job.id, status="in-progress", progress="starting"):
            raise Cancelled
        folder = self.folder(job.id)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        restriction = self._restriction(job)
        types = self._types(job)
        output: list[dict[str, Any]] = []
        done = 0
        for index, resource_type in enumerate(types, start=1):
            stage = f"{resource_type} ({index} of {len(types)} types)"
            lines = self._watched(job, self._lines(job, resource_type, restriction), stage, done)
            files = write_type_files(folder, resource_type, lines, self.per_file)
            if cancel.is_set():
                raise Cancelled
            output += files
            done += sum(f["count"] for f in files)
        if not self.jobs.update(job.id, status="completed", progress="done", output=output):
            raise Cancelled

    def _watched(self, job: Job, lines: Iterable[str], stage: str, before: int) -> Iterator[str]:
        """``lines`` as they go by, stopping if the job is cancelled and recording progress."""
        cancel = self._cancel[job.id]
        for count, line in enumerate(lines, start=before + 1):
            if count % PROGRESS_EVERY == 0:
                if cancel.is_set():
                    raise Cancelled
                self.jobs.update(job.id, progress=f"{stage}: {count:,} resources so far")
            yield line

    def _restriction(self, job: Job) -> Restriction | None:
        caller = self._restrictions.get(job.id)
        level: Restriction | None = None
        if job.request.level != "system":
            listed = job.request.level == "group" or bool(job.request.patients)
            level = InPatientCompartment(job.id if listed else None)
        parts = [r for r in (caller, level) if r is not None]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else AllOf(parts)

    def _types(self, job: Job) -> list[str]:
        """The requested types, or every type the store holds. A type with nothing this job
        may export writes no file, so the caller's restriction need not be consulted here."""
        if job.request.types:
            return list(job.request.types)
        types: list[str] = []
        with self.store.transaction() as tx:
            while True:
                # One index probe per type rather than a scan of every row (SELECT DISTINCT).
                ((following,),) = tx.execute(
                    "SELECT MIN(resource_type) FROM resource WHERE resource_type > ?",
                    [types[-1] if types else ""],
                )
                if following is None:
                    return types
                types.append(str(following))

    def _lines(
        self, job: Job, resource_type: str, restriction: Restriction | None
    ) -> Iterator[str]:
        """Each exported resource of the type as one line of JSON (without the newline)."""
        request = job.request
        trim = subsetter(request.elements, resource_type) if request.elements else None
        filters = [query for t, query in request.type_filters if t == resource_type]
        if not filters:
            stored = self.store.iter_json([resource_type], request.since, restriction=restriction)
            if trim is None:
                return stored
            return (_json(trim(orjson.loads(line))) for line in stored)
        found = self._filtered(job, resource_type, filters, restriction)
        return (_json(resource if trim is None else trim(resource)) for resource in found)

    def _filtered(
        self, job: Job, resource_type: str, filters: list[str], restriction: Restriction | None
    ) -> Iterator[dict[str, Any]]:
        # Several filters for one type are ORed; a resource matching two is written once.
        seen: set[str] = set()
        for query in filters:
            params = parse_qsl(query, keep_blank_values=True)
            if job.request.since:
                params.append(("_lastUpdated", f"ge{job.request.since}"))
            params += [("_count", str(TYPE_FILTER_PAGE)), ("_total", "none")]
            search = parse_search(resource_type, params, strict=True)
            while True:
                page = self.store.search(search, restriction=restriction)
                for stored in page.matches:
                    if stored.resource is not None and (len(filters) == 1 or stored.id not in seen):
                        if len(filters) > 1:
                            seen.add(stored.id)
                        yield stored.resource
                if page.next_cursor is None:
                    break
                search = dataclasses.replace(search, cursor=page.next_cursor)


def _json(resource: dict[str, Any]) -> str:
    return orjson.dumps(resource).decode()
