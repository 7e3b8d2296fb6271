"""Running export jobs in the background: one worker thread, streaming each resource type from
the store into ``<Type>.ndjson`` (memory flat), cancellable, resumed after a restart.

"Resumed" means run again from the start under the same ``transactionTime``: a half-written
file is never trusted. A job that ran under the caller's access restriction cannot be
resumed (the restriction is not stored), so it fails with a message saying to kick off again.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import orjson

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
    """Resources in the compartment of any Patient, or of the members of one export's Group."""

    def __init__(self, group_job_id: str | None) -> None:
        self.group_job_id = group_job_id

    def sql(self, dialect: str, alias: str) -> tuple[str, list[Any]]:
        if self.group_job_id is None:
            return (
                "EXISTS (SELECT 1 FROM patient_compartment pc "  # noqa: S608 - alias from the store
                f"WHERE pc.resource_pk = {alias}.pk)",
                [],
            )
        return (
            "EXISTS (SELECT 1 FROM patient_compartment pc JOIN bulk_export_member m "  # noqa: S608
            "ON m.patient_id = pc.patient_id "
            f"WHERE pc.resource_pk = {alias}.pk AND m.job_id = ?)",
            [self.group_job_id],
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

    def __init__(self, store: Store, jobs: JobTable, root: Path) -> None:
        self.store = store
        self.jobs = jobs
        self.root = root
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
        types = self._types(job, restriction)
        output = []
        total = 0
        for index, resource_type in enumerate(types, start=1):
            path = folder / f"{resource_type}.ndjson"
            count = 0
            with path.open("wb") as file:
                for resource in self._resources(job, resource_type, restriction):
                    file.write(orjson.dumps(resource, option=orjson.OPT_APPEND_NEWLINE))
                    count += 1
                    if count % PROGRESS_EVERY == 0:
                        if cancel.is_set():
                            raise Cancelled
                        self.jobs.update(
                            job.id,
                            progress=f"{resource_type} ({index} of {len(types)} types): "
                            f"{total + count:,} resources so far",
                        )
            if cancel.is_set():
                raise Cancelled
            total += count
            if count:
                output.append({"type": resource_type, "file": path.name, "count": count})
            else:
                path.unlink()
        if not self.jobs.update(job.id, status="completed", progress="done", output=output):
            raise Cancelled

    def _restriction(self, job: Job) -> Restriction | None:
        caller = self._restrictions.get(job.id)
        level: Restriction | None = None
        if job.request.level != "system":
            level = InPatientCompartment(job.id if job.request.level == "group" else None)
        parts = [r for r in (caller, level) if r is not None]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else AllOf(parts)

    def _types(self, job: Job, restriction: Restriction | None) -> list[str]:
        if job.request.types:
            return list(job.request.types)
        sql, params = (
            ("1 = 1", []) if restriction is None else restriction.sql(self.store.dialect, "r")
        )
        with self.store.transaction() as tx:
            rows = tx.execute(
                # The predicate comes from restriction objects; their values are bound.
                f"SELECT DISTINCT r.resource_type FROM resource r WHERE r.deleted = 0 AND {sql}",  # noqa: S608
                params,
            )
        return sorted(str(row[0]) for row in rows)

    def _resources(
        self, job: Job, resource_type: str, restriction: Restriction | None
    ) -> Iterator[dict[str, Any]]:
        filters = [query for t, query in job.request.type_filters if t == resource_type]
        if not filters:
            for stored in self.store.iter_resources(
                [resource_type], job.request.since, restriction=restriction
            ):
                if stored.resource is not None:
                    yield stored.resource
            return
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
